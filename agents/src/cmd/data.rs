//! `reticle data …`: generate synthetic suites, import existing datasets, check datasets and
//! build tokenizers. Needs no libtorch and no model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use reticle_models::datacheck::{self, Problem};
use reticle_models::dataset::{self, Record, Target, DATA_FILE};
use reticle_models::import::{self, BoxFormat, ImportOptions};
use reticle_models::tokenizer::TextTokenizer;
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Generate a synthetic task suite (images + data.jsonl) into a folder.
    Gen(GenArgs),
    /// Convert a VLM-R1-style or ScreenSpot-style dataset to reticle records.
    Import(ImportArgs),
    /// Validate a dataset: every record parses (no unknown field, one target key, no inverted
    /// box), every image, depth image and mask it names decodes, masks and depth images have
    /// their image's size, boxes and points lie inside their image, and ids are unique. Every
    /// problem is printed as `file:line: record ID: field: message`; exits non-zero if any.
    Check(CheckArgs),
    /// Train a byte-level BPE tokenizer.json on the text of datasets.
    Tokenizer(TokenizerArgs),
    /// Read the text of every image with the perception stage into DATASET/spans.jsonl
    /// (resumable), so training sees what the runtime will see.
    Perceive(super::data_perceive::PerceiveArgs),
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Which suite: ui (desktop screens), spatial (tabletop + depth), shapes.
    #[arg(long)]
    suite: SuiteKind,
    /// Number of samples.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Random seed; the same seed always gives the same files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder (created; must not already hold a dataset unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Optional TOML file with suite knobs (the `ui`, `spatial` or `shapes` tables).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Replace an existing dataset in --out.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImportFormat {
    /// JSONL with `image` and `conversations` (human/gpt turns).
    VlmR1,
    /// JSON array or JSONL with `img_filename`, `bbox`, `instruction`.
    Screenspot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BoxFormatArg {
    Xywh,
    Xyxy,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long, value_enum)]
    format: ImportFormat,
    /// The file to convert.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the reticle JSONL (image paths are written relative to it).
    #[arg(long)]
    out: PathBuf,
    /// Folder the input's image paths are relative to (default: the input's folder).
    #[arg(long)]
    images: Option<PathBuf>,
    /// Coordinates in the input are 0..1000 normalised rather than pixels.
    #[arg(long)]
    norm1000: bool,
    /// ScreenSpot bbox layout: xywh (ScreenSpot, v2) or xyxy (ScreenSpot-Pro).
    #[arg(long, value_enum, default_value = "xywh")]
    box_format: BoxFormatArg,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Dataset folders (holding data.jsonl) or JSONL files.
    #[arg(required = true)]
    data: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TokenizerArgs {
    /// Dataset folders or JSONL files whose instructions, reasoning and labels are the corpus.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Vocabulary size (at most).
    #[arg(long, default_value_t = 1024)]
    vocab_size: usize,
    /// Output tokenizer.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Gen(a) => gen(&a),
        DataCommand::Import(a) => import(&a),
        DataCommand::Check(a) => check(&a),
        DataCommand::Tokenizer(a) => tokenizer(&a),
        DataCommand::Perceive(a) => super::data_perceive::run(&a),
    }
}

fn progress_bar(n: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}

fn gen(a: &GenArgs) -> anyhow::Result<()> {
    let mut cfg = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading suite config {}", path.display()))?;
            let mut table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing suite config {}", path.display()))?;
            table.insert("kind".into(), a.suite.as_str().into());
            table.insert("n".into(), toml::Value::Integer(a.n as i64));
            table.insert("seed".into(), toml::Value::Integer(a.seed as i64));
            let cfg: SuiteConfig = table
                .try_into()
                .with_context(|| format!("suite config {}", path.display()))?;
            cfg
        }
        None => SuiteConfig::new(a.suite, a.n, a.seed),
    };
    cfg.n = a.n;
    if a.n == 0 {
        bail!("--n must be at least 1");
    }
    let jsonl = a.out.join(DATA_FILE);
    if jsonl.exists() && !a.force {
        bail!(
            "{} already holds a dataset; pass --force to replace it or choose another --out",
            a.out.display()
        );
    }
    let pb = progress_bar(a.n, &format!("generating {}", a.suite));
    let summary = suites::generate(&cfg, &a.out, &|done| pb.set_position(done as u64))
        .with_context(|| format!("generating suite {} into {}", a.suite, a.out.display()))?;
    pb.finish_and_clear();
    outln!(
        "wrote {} {} samples to {} in {:.1}s ({:.1} samples/s)",
        summary.n,
        summary.kind,
        summary.jsonl.display(),
        summary.seconds,
        summary.n as f64 / summary.seconds.max(1e-9)
    );
    for (task, n) in &summary.tasks {
        outln!("  task {task:<9} {n}");
    }
    Ok(())
}

fn import(a: &ImportArgs) -> anyhow::Result<()> {
    let opts = ImportOptions {
        image_root: a.images.clone(),
        norm1000: a.norm1000,
        box_format: match a.box_format {
            BoxFormatArg::Xywh => BoxFormat::Xywh,
            BoxFormatArg::Xyxy => BoxFormat::Xyxy,
        },
    };
    let records = match a.format {
        ImportFormat::VlmR1 => import::import_vlm_r1(&a.input, &opts),
        ImportFormat::Screenspot => import::import_screenspot(&a.input, &opts),
    }
    .with_context(|| format!("importing {}", a.input.display()))?;
    let missing = records.iter().filter(|r| !r.image.is_file()).count();
    dataset::write_jsonl(&a.out, &records)
        .with_context(|| format!("writing {}", a.out.display()))?;
    outln!(
        "imported {} records into {}",
        records.len(),
        a.out.display()
    );
    if missing > 0 {
        eprintln!("warning: {missing} records name an image that does not exist (check --images)");
    }
    Ok(())
}

fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Record>> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(
            dataset::read_dataset(p).with_context(|| format!("reading dataset {}", p.display()))?,
        );
    }
    Ok(all)
}

fn check(a: &CheckArgs) -> anyhow::Result<()> {
    let (records, problems) = check_datasets(&a.data)?;
    let mut by_task: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *by_task.entry(r.task.to_string()).or_default() += 1;
    }
    outln!("{} records", records.len());
    for (task, n) in &by_task {
        outln!("  task {task:<9} {n}");
    }
    if !problems.is_empty() {
        report_problems(&problems);
        bail!("{} problem(s) found", problems.len());
    }
    outln!(
        "ok: every record parses, every file it names decodes, masks and depth images have \
         their image's size, boxes and points lie inside their image, ids are unique"
    );
    Ok(())
}

/// Checks every dataset with [`datacheck::check_dataset`]: the records that parsed and
/// every problem found.
pub fn check_datasets(paths: &[PathBuf]) -> anyhow::Result<(Vec<Record>, Vec<Problem>)> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        let report = datacheck::check_dataset(p)
            .with_context(|| format!("reading dataset {}", p.display()))?;
        records.extend(report.records.into_iter().map(|l| l.record));
        problems.extend(report.problems);
    }
    Ok((records, problems))
}

/// Prints problems to stderr, at most [`MAX_PRINTED`] of them.
pub fn report_problems(problems: &[Problem]) {
    for p in problems.iter().take(MAX_PRINTED) {
        eprintln!("{p}");
    }
    if problems.len() > MAX_PRINTED {
        eprintln!("… and {} more", problems.len() - MAX_PRINTED);
    }
}

/// Problems printed by `data check` and `eval` before the count of the rest.
const MAX_PRINTED: usize = 200;

fn tokenizer(a: &TokenizerArgs) -> anyhow::Result<()> {
    let records = read_all(&a.data)?;
    if records.is_empty() {
        bail!("the datasets hold no records");
    }
    let mut corpus = Vec::with_capacity(records.len() * 2);
    for r in &records {
        corpus.push(r.instruction.clone());
        if let Some(c) = &r.cot {
            corpus.push(c.clone());
        }
        if let Target::Label(l) = &r.target {
            corpus.push(l.clone());
        }
    }
    let tk = TextTokenizer::train(corpus.iter(), a.vocab_size).context("training the tokenizer")?;
    tk.save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    outln!(
        "wrote {} ({} tokens, trained on {} texts)",
        a.out.display(),
        tk.vocab_size(),
        corpus.len()
    );
    Ok(())
}
