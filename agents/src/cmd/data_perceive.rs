//! `reticle data perceive DATASET`: read the text of every image of a dataset once, with the
//! runtime's text reader, into `DATASET/spans.jsonl` (one [`SpansRecord`] per image), so the
//! trainer — which never links ONNX Runtime — trains on exactly what the runtime will see.
//!
//! Resumable: lines go to `spans.jsonl.partial` as each image is read (a torn last line is
//! dropped on restart); the finished file is renamed into place, so `spans.jsonl` is always
//! whole. With `--report`, the ui suite's drawn texts (`meta.texts`) give the recall of the
//! reader: the share of visible labels read exactly (case-folded, whitespace collapsed) and
//! the IoU of their boxes.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reticle_models::dataset::{self, Record};
use reticle_models::geometry::BBox;
use reticle_models::preprocess::open_image;
use reticle_models::text::{find_label, is_label, OcrConfig, SpansRecord};
use reticle_runtime::perception::ReaderOptions;

/// The spans file beside a dataset's data.jsonl.
pub const SPANS_FILE: &str = "spans.jsonl";

#[derive(Debug, Args)]
pub struct PerceiveArgs {
    /// Dataset folder (holding data.jsonl) or a .jsonl file.
    dataset: PathBuf,
    #[command(flatten)]
    reader: super::perceive::ReaderArgs,
    /// Where to write the spans (default: DATASET/spans.jsonl), e.g. for a dataset that is
    /// read-only or must stay untouched.
    #[arg(long, value_name = "FILE.jsonl")]
    out: Option<PathBuf>,
    /// Read every image again even if spans.jsonl is complete.
    #[arg(long)]
    force: bool,
    /// Name the icons of every image with this icon reader — a package's (`perception.icons`)
    /// or a `reticle-train icons` output folder's — and add them to the spans (replacing icon spans written before), as the package's
    /// pipeline does: the spans a pointer trained on then hold the icons it will see. The
    /// text already read is kept.
    #[arg(long, value_name = "PKG")]
    icons: Option<PathBuf>,
    /// Print the reader's recall of the labels the ui suite drew (records' meta.texts),
    /// overall, by screen scale and by resolution, with misses by kind.
    #[arg(long)]
    report: bool,
    /// Print the report as JSON (with up to 200 misses and their kinds).
    #[arg(long, requires = "report")]
    json: bool,
}

pub fn run(args: &PerceiveArgs) -> anyhow::Result<()> {
    let (config, options) = args.reader.resolve()?;
    let records = dataset::read_dataset(&args.dataset)?;
    let root = if args.dataset.is_dir() {
        args.dataset.clone()
    } else {
        args.dataset
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let out = args.out.clone().unwrap_or_else(|| root.join(SPANS_FILE));
    let mut partial_name = out.file_name().unwrap_or_default().to_os_string();
    partial_name.push(".partial");
    let partial = out.with_file_name(partial_name);
    if args.force {
        for p in [&out, &partial] {
            if p.exists() {
                std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    // Unique images in dataset order, keyed as the dataset writes them.
    let mut images: Vec<(String, PathBuf)> = Vec::new();
    let mut seen = HashSet::new();
    for r in &records {
        let key = key_of(&r.image, &root);
        if seen.insert(key.clone()) {
            images.push((key, r.image.clone()));
        }
    }
    if !out.exists() {
        read_missing(&images, &partial, &config, &options)?;
        std::fs::rename(&partial, &out)
            .with_context(|| format!("moving {} into place", partial.display()))?;
        eprintln!("wrote {} ({} images)", out.display(), images.len());
    } else {
        eprintln!(
            "{} is complete ({} images); --force reads again",
            out.display(),
            images.len()
        );
    }
    if let Some(pkg) = &args.icons {
        add_icons(pkg, &root, &out, &options)?;
    }
    if args.report {
        let spans = read_spans_file(&out)?;
        report(&records, &root, &spans, args.json)?;
    }
    Ok(())
}

/// The icon reader of `dir`: a package's `perception.icons`, or the `stage.json` of a
/// `reticle-train icons` output folder.
fn icon_stage(dir: &Path) -> anyhow::Result<reticle_models::icons::IconStage> {
    if dir.join("model.json").is_file() {
        let manifest = reticle_models::manifest::Manifest::load(dir)
            .with_context(|| format!("--icons {}", dir.display()))?;
        return manifest.perception.icons.with_context(|| {
            format!(
                "--icons {}: the package has no icon reader (perception.icons; `reticle-train icons --install` adds one)",
                dir.display()
            )
        });
    }
    let path = dir.join("stage.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "--icons {}: neither a package (model.json) nor a `reticle-train icons` folder (stage.json)",
            dir.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Rewrites the spans file `out` with each image's icons named by `pkg`'s icon reader.
fn add_icons(pkg: &Path, root: &Path, out: &Path, options: &ReaderOptions) -> anyhow::Result<()> {
    let stage = icon_stage(pkg)?;
    let reader = reticle_runtime::perception::IconReader::load(pkg, &stage, options)?;
    let records = read_spans_file(out)?;
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "naming icons {bar:40} {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut text, mut icons) = (String::new(), 0usize);
    for (key, mut rec) in records {
        let path = root.join(&key);
        let rgb = open_image(&path)
            .with_context(|| format!("reading image {}", path.display()))?
            .to_rgb8();
        rec.spans = reader.with_icons(&rgb, &rec.spans)?;
        icons += rec.spans.iter().filter(|s| s.icon.is_some()).count();
        text.push_str(&serde_json::to_string(&rec)?);
        text.push('\n');
        bar.inc(1);
    }
    bar.finish_and_clear();
    reticle_models::fsutil::write_atomic(out, text.as_bytes())?;
    eprintln!(
        "named {icons} icons in {} ({} images)",
        out.display(),
        bar.position()
    );
    Ok(())
}

fn key_of(image: &Path, root: &Path) -> String {
    image
        .strip_prefix(root)
        .unwrap_or(image)
        .to_string_lossy()
        .into_owned()
}

/// The complete lines of a spans file, by image; a torn last line is ignored.
pub fn read_spans_file(path: &Path) -> anyhow::Result<BTreeMap<String, SpansRecord>> {
    let mut out = BTreeMap::new();
    if !path.exists() {
        return Ok(out);
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        match serde_json::from_str::<SpansRecord>(&line) {
            Ok(r) => {
                out.insert(r.image.clone(), r);
            }
            Err(_) if i + 1 == n => {
                tracing::warn!(path = %path.display(), line = i + 1, "ignoring a torn last line");
            }
            Err(e) => bail!("{}:{}: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

fn read_missing(
    images: &[(String, PathBuf)],
    partial: &Path,
    config: &OcrConfig,
    options: &ReaderOptions,
) -> anyhow::Result<()> {
    let done = read_spans_file(partial)?;
    // Rewrite the partial file without a torn tail before appending to it.
    let mut keep = String::new();
    for r in done.values() {
        keep.push_str(&serde_json::to_string(r)?);
        keep.push('\n');
    }
    reticle_models::fsutil::write_atomic(partial, keep.as_bytes())?;
    let todo: Vec<&(String, PathBuf)> = images
        .iter()
        .filter(|(k, _)| !done.contains_key(k))
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let reader = super::perceive::load_reader(config, options)?;
    if !done.is_empty() {
        eprintln!(
            "resuming: {} of {} images already read",
            done.len(),
            images.len()
        );
    }
    let bar = ProgressBar::new(images.len() as u64);
    bar.set_position(done.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "reading text {bar:40} {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(partial)
        .with_context(|| format!("opening {}", partial.display()))?;
    for (key, path) in todo {
        let image =
            open_image(path).with_context(|| format!("reading image {}", path.display()))?;
        let reading = reader
            .read(&image)
            .with_context(|| format!("reading the text of {}", path.display()))?;
        let line = serde_json::to_string(&SpansRecord {
            image: key.clone(),
            width: reading.width,
            height: reading.height,
            spans: reading.spans,
        })?;
        writeln!(file, "{line}").with_context(|| format!("writing {}", partial.display()))?;
        bar.inc(1);
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", partial.display()))?;
    bar.finish_and_clear();
    Ok(())
}

#[derive(Debug, Default, serde::Serialize)]
struct Recall {
    labels: usize,
    found: usize,
    iou_sum: f64,
}

impl Recall {
    fn add(&mut self, found: Option<f64>) {
        self.labels += 1;
        if let Some(iou) = found {
            self.found += 1;
            self.iou_sum += iou;
        }
    }
    fn rate(&self) -> f64 {
        self.found as f64 / self.labels.max(1) as f64
    }
    fn iou(&self) -> f64 {
        self.iou_sum / self.found.max(1) as f64
    }
}

/// Why a label was not read: `merged_words` (its letters were read inside a span, but not
/// as whole words — wrong or missing spaces), `light_on_dark`, `tiny_text` (under 12 px),
/// or `misread`.
fn miss_kind(
    spans: &[reticle_models::text::TextSpan],
    text: &str,
    t: &serde_json::Value,
) -> &'static str {
    let squash = |s: &str| s.split_whitespace().collect::<String>().to_lowercase();
    let want = squash(text);
    if spans.iter().any(|s| squash(&s.text).contains(&want)) {
        "merged_words"
    } else if t.get("light").and_then(serde_json::Value::as_bool) == Some(true) {
        "light_on_dark"
    } else if t
        .get("font_px")
        .and_then(serde_json::Value::as_f64)
        .is_some_and(|p| p < 12.0)
    {
        "tiny_text"
    } else {
        "misread"
    }
}

/// Recall of the drawn labels (`meta.texts` of ui records), overall and by `meta.scale`.
fn report(
    records: &[Record],
    root: &Path,
    spans: &BTreeMap<String, SpansRecord>,
    json: bool,
) -> anyhow::Result<()> {
    let mut all = Recall::default();
    let mut by_scale: BTreeMap<String, Recall> = BTreeMap::new();
    let mut by_resolution: BTreeMap<String, Recall> = BTreeMap::new();
    let mut misses: Vec<serde_json::Value> = Vec::new();
    let mut miss_kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut seen = HashSet::new();
    for r in records {
        let key = key_of(&r.image, root);
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(meta) = &r.meta else { continue };
        let Some(texts) = meta.get("texts").and_then(|t| t.as_array()) else {
            continue;
        };
        let Some(read) = spans.get(&key) else {
            bail!("{key}: no spans (run without --report first)");
        };
        let scale = meta.get("scale").map_or("?".into(), |s| s.to_string());
        let res = meta.get("resolution").map_or("?".into(), |s| s.to_string());
        for t in texts {
            let (Some(text), Some(b)) = (t.get("text").and_then(|v| v.as_str()), t.get("box"))
            else {
                continue;
            };
            if !is_label(text) {
                continue;
            }
            let truth: BBox = serde_json::from_value(b.clone())?;
            let found = find_label(&read.spans, text).map(|got| truth.iou(&got));
            all.add(found);
            by_scale.entry(scale.clone()).or_default().add(found);
            by_resolution.entry(res.clone()).or_default().add(found);
            if found.is_none() {
                let kind = miss_kind(&read.spans, text, t);
                *miss_kinds.entry(kind).or_default() += 1;
                if misses.len() < 200 {
                    misses.push(serde_json::json!({"image": key, "text": text, "box": truth, "font_px": t.get("font_px"), "kind": kind}));
                }
            }
        }
    }
    if all.labels == 0 {
        bail!("no record has meta.texts (the ui suite writes them): nothing to report");
    }
    if json {
        let v = serde_json::json!({
            "recall": all.rate(), "mean_iou": all.iou(), "labels": all.labels,
            "by_scale": by_scale.iter().map(|(k, r)| (k.clone(), serde_json::json!({"recall": r.rate(), "mean_iou": r.iou(), "labels": r.labels}))).collect::<BTreeMap<_, _>>(),
            "by_resolution": by_resolution.iter().map(|(k, r)| (k.clone(), serde_json::json!({"recall": r.rate(), "mean_iou": r.iou(), "labels": r.labels}))).collect::<BTreeMap<_, _>>(),
            "miss_kinds": miss_kinds,
            "misses": misses,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    outln!(
        "recall {:.1} % of {} labels, mean IoU of found boxes {:.2}",
        100.0 * all.rate(),
        all.labels,
        all.iou()
    );
    outln!(
        "  misses by kind: {}",
        miss_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (name, table) in [("scale", &by_scale), ("resolution", &by_resolution)] {
        for (k, r) in table {
            outln!(
                "  {name} {k:>12}: recall {:.1} % of {:>5}, IoU {:.2}",
                100.0 * r.rate(),
                r.labels,
                r.iou()
            );
        }
    }
    Ok(())
}
