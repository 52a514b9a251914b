//! `reticle-train`: the trainer's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use reticle_trainer::config::ModelArchitecture;
use reticle_trainer::device::{load_cuda_backend, DeviceRequest};
use reticle_trainer::eval::{evaluate, EvalReport};
use reticle_trainer::plot::{plot_metrics, DEFAULT_PLOT_KEYS};
use reticle_trainer::pointer::{self, PointerSession};
use reticle_trainer::qwen::QwenSession;
use reticle_trainer::session::{encode_all, load_trained, read_records, Session, StartOptions};
use reticle_trainer::{grpo, sft};

/// Train reticle grounding policies with SFT and GRPO on libtorch.
#[derive(Debug, Parser)]
#[command(name = "reticle-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Supervised fine-tuning on reference completions (Reason-RFT stage 1).
    Sft(TrainArgs),
    /// Group Relative Policy Optimization on verifiable rewards (stage 2).
    Grpo(TrainArgs),
    /// Evaluate a run's last checkpoint on a dataset (greedy decoding).
    Eval(EvalArgs),
    /// Export a run's last checkpoint (or a checkpoint folder) to an ONNX model package.
    Export(ExportArgs),
    /// Train the perception stage's icon reader on icon sheets (scripts/icon_sheets.sh),
    /// evaluate it on held-out icon styles, export icons.onnx, and install it into pointer
    /// packages (`--install PKG`). An --out that already holds a trained stage is reused.
    Icons(IconsArgs),
    /// Show the libtorch build in use and which devices it can train on.
    Info {
        /// Device to check: cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// TOML training config (required for a new run; a resumed run uses its saved copy).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run directory: config, tokenizer, checkpoints, metrics.jsonl and plots go here.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// Start from another run's last checkpoint (e.g. GRPO after SFT), or, for a pointer
    /// run, from an exported pointer package (e.g. models/default: its weights are read
    /// from pointer.onnx).
    #[arg(long)]
    init: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Debug, Args)]
struct EvalArgs {
    /// The run directory to evaluate.
    #[arg(long)]
    run: PathBuf,
    /// Datasets to evaluate on (default: the run's `[data] eval` sets).
    #[arg(long, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Evaluate at most this many records (0 = all).
    #[arg(long, default_value_t = 0)]
    max: usize,
    /// Print JSON (metrics and completions) instead of a table.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Debug, Args)]
struct IconsArgs {
    /// Training sheets (scripts/icon_sheets.sh --sets train).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Held-out sheets (scripts/icon_sheets.sh --sets held-out): styles never trained on.
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Output folder: icons.onnx, stage.json, eval.json, config.json, icons-parity.json.
    #[arg(long)]
    out: PathBuf,
    /// Hyper-parameters as TOML (steps, batch_size, lr, weight_decay, variants, jitter,
    /// threshold, seed); default: the built-in ones.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Override the config's steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Pointer package(s) to install the stage into (icons.onnx + manifest perception.icons).
    #[arg(long, value_name = "PKG")]
    install: Vec<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The run directory (its last checkpoint), a `<run>/checkpoints/step-N` folder, or a
    /// Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint folder (exported as given).
    #[arg(long, visible_alias = "checkpoint")]
    run: PathBuf,
    /// The package folder to write.
    #[arg(long)]
    out: PathBuf,
    /// Replace a non-empty --out folder.
    #[arg(long)]
    force: bool,
    /// Package name in model.json (default: the --out folder name).
    #[arg(long)]
    name: Option<String>,
    /// Store a graph's weights in a `<graph>.onnx.data` file beside it when they exceed this
    /// many MiB (protobuf files cannot exceed 2 GiB).
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    external_data_mib: u64,
    /// Quantise the decoder's weights for ONNX Runtime's MatMulNBits (`int8` or `int4`,
    /// symmetric, blocks of 32; qwen2-vl exports). The parity check then reports the
    /// differences instead of bounding them.
    #[arg(long, value_name = "int8|int4")]
    quantize: Option<reticle_trainer::export::quant::Quant>,
    /// Afterwards, check the graphs with onnx.checker and compare ONNX Runtime with tch
    /// (needs the tools venv of `scripts/setup.sh all`).
    #[arg(long)]
    check: bool,
}

/// glibc raises its mmap threshold to the largest block freed (up to 32 MB); after that the
/// multi-megabyte images decoded while a run encodes its records come from the heap, and the
/// small buffers every kept example holds pin the heap between them. Measured on 1,200
/// records: ~0.96 MB of RSS per record where an example holds ~160 KB; with the threshold at
/// 64 KiB (large blocks stay in mmap and go back on free), 163 KB per record. Training wants
/// the opposite: libtorch does not cache CPU blocks, and at 64 KiB every activation is a
/// fresh mmap whose pages fault in (measured beside an evaluation: 8.6 s a step against
/// ~2.5 s). So the threshold is low
/// while records are encoded and back at glibc's ceiling (32 MB; trim at 64 MB) when this
/// guard drops. An explicit `MALLOC_MMAP_THRESHOLD_` in the environment wins.
struct EncodingHeap;

impl EncodingHeap {
    fn enter() -> Self {
        set_mmap_threshold(64 * 1024);
        EncodingHeap
    }
}

impl Drop for EncodingHeap {
    fn drop(&mut self) {
        set_mmap_threshold(32 << 20);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_mmap_threshold(bytes: i32) {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    // SAFETY: mallopt only sets allocator parameters, which glibc reads under its own locks.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, bytes.saturating_mul(2)) == 1
    };
    if !ok {
        tracing::warn!(
            bytes,
            "mallopt(M_MMAP_THRESHOLD) was refused: memory use may grow"
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold(_bytes: i32) {}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn device(s: &str) -> anyhow::Result<tch::Device> {
    let req: DeviceRequest = s.parse()?;
    let dev = req.resolve()?;
    tracing::info!(?dev, "device");
    Ok(dev)
}

/// The architecture a command runs: from `--config`, or the saved config of a resumed run.
fn architecture(a: &TrainArgs) -> anyhow::Result<ModelArchitecture> {
    let path = match (&a.config, a.resume) {
        (Some(p), false) => p.clone(),
        _ => a.out.join("config.toml"),
    };
    run_architecture(&path)
}

fn run_architecture(config: &std::path::Path) -> anyhow::Result<ModelArchitecture> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    Ok(reticle_trainer::config::TrainConfig::from_toml(&text)
        .with_context(|| format!("in {}", config.display()))?
        .model
        .architecture)
}

fn start_options(a: &TrainArgs) -> anyhow::Result<StartOptions> {
    if a.resume && a.config.is_some() {
        bail!("--resume uses the config saved in the run; drop --config");
    }
    if !a.resume && a.config.is_none() {
        bail!(
            "a new run needs --config FILE (or --resume to continue {})",
            a.out.display()
        );
    }
    let config_toml = match &a.config {
        Some(p) => {
            Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => None,
    };
    Ok(StartOptions {
        out: a.out.clone(),
        config_toml,
        resume: a.resume,
        init: a.init.clone(),
        device: device(&a.device)?,
    })
}

fn start(a: &TrainArgs) -> anyhow::Result<Session> {
    let _heap = EncodingHeap::enter();
    Session::start(&start_options(a)?).with_context(|| format!("starting run {}", a.out.display()))
}

fn start_pointer(a: &TrainArgs) -> anyhow::Result<PointerSession> {
    let _heap = EncodingHeap::enter();
    PointerSession::start(&start_options(a)?)
        .with_context(|| format!("starting run {}", a.out.display()))
}

fn start_qwen(a: &TrainArgs) -> anyhow::Result<QwenSession> {
    let _heap = EncodingHeap::enter();
    QwenSession::start(&start_options(a)?)
        .with_context(|| format!("starting run {}", a.out.display()))
}

fn finish_run(run: &reticle_trainer::run::RunDir, extra: &[&'static str]) -> anyhow::Result<()> {
    let mut keys = DEFAULT_PLOT_KEYS.to_vec();
    keys.extend_from_slice(extra);
    let plots = plot_metrics(&run.metrics_path(), &run.plots_dir(), &keys)?;
    println!("run: {}", run.root().display());
    println!(
        "plots: {} written to {}",
        plots.len(),
        run.plots_dir().display()
    );
    Ok(())
}

fn finish(s: &Session) -> anyhow::Result<()> {
    finish_run(&s.run, &["reward/accuracy"])
}

const POINTER_PLOT_KEYS: [&str; 6] = [
    "reward/accuracy",
    "entropy",
    "zero_variance_share",
    "accuracy",
    "loss/ce",
    "loss/anchor",
];

fn print_report(report: &EvalReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{}", report.summary);
    }
    Ok(())
}

impl Command {
    /// The `--device` this command asked for (`export` runs on the CPU).
    fn device(&self) -> Option<&str> {
        match self {
            Self::Sft(a) | Self::Grpo(a) => Some(&a.device),
            Self::Eval(a) => Some(&a.device),
            Self::Info { device } => Some(device),
            Self::Icons(a) => Some(&a.device),
            Self::Export(_) => None,
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // libtorch looks its CUDA hooks up once, at the first CUDA query (`is_available`, a seed,
    // a tensor), and keeps what it found: the CUDA backend must be loaded before anything else
    // touches libtorch. Loading it later left an H200 invisible (`info` asked `is_available`
    // first and answered false).
    if cli
        .command
        .device()
        .and_then(|d| d.parse::<DeviceRequest>().ok())
        .is_some_and(|r| r != DeviceRequest::Cpu)
    {
        load_cuda_backend();
    }
    match cli.command {
        Command::Sft(a) if architecture(&a)? == ModelArchitecture::Qwen2Vl => {
            let mut s = start_qwen(&a)?;
            let loss = sft::run_sft(&mut s)?;
            println!(
                "sft finished at step {} with loss {loss:.4}",
                s.cfg.sft.steps
            );
            finish_run(&s.run, &["reward/accuracy"])
        }
        Command::Grpo(a) if architecture(&a)? == ModelArchitecture::Qwen2Vl => {
            let mut s = start_qwen(&a)?;
            let reward = grpo::trainer::run_grpo(&mut s)?;
            println!(
                "grpo finished at step {} with mean reward {reward:.3}",
                s.cfg.grpo.steps
            );
            finish_run(&s.run, &["reward/accuracy"])
        }
        Command::Eval(a)
            if run_architecture(&a.run.join("config.toml"))? == ModelArchitecture::Qwen2Vl =>
        {
            let dev = device(&a.device)?;
            let trained = reticle_trainer::qwen::load_trained(&a.run, dev)
                .with_context(|| format!("loading run {}", a.run.display()))?;
            let data = if a.data.is_empty() {
                trained.cfg.data.eval.clone()
            } else {
                a.data.clone()
            };
            if data.is_empty() {
                bail!("the run has no [data] eval sets; pass --data DIR");
            }
            let records = read_records(&data, a.max)?;
            let examples = {
                let _heap = EncodingHeap::enter();
                trained.encoder.encode_all(&records)?
            };
            let report = reticle_trainer::qwen::evaluate(
                &trained.model,
                &trained.encoder,
                &records,
                &examples,
                trained.cfg.grpo.sample.max_new_tokens,
                &trained.cfg.grpo.rewards,
            )?;
            tracing::info!(
                step = trained.step,
                n = records.len(),
                "evaluated checkpoint"
            );
            print_report(&report, a.json)
        }
        Command::Sft(a) if architecture(&a)? == ModelArchitecture::Pointer => {
            let mut s = start_pointer(&a)?;
            let loss = pointer::run_sft(&mut s)?;
            println!(
                "sft finished at step {} with loss {loss:.4}",
                s.cfg.sft.steps
            );
            finish_run(&s.run, &POINTER_PLOT_KEYS)
        }
        Command::Grpo(a) if architecture(&a)? == ModelArchitecture::Pointer => {
            let mut s = start_pointer(&a)?;
            let reward = pointer::run_grpo(&mut s)?;
            println!(
                "grpo finished at step {} with mean reward {reward:.3}",
                s.cfg.grpo.steps
            );
            finish_run(&s.run, &POINTER_PLOT_KEYS)
        }
        Command::Eval(a)
            if run_architecture(&a.run.join("config.toml"))? == ModelArchitecture::Pointer =>
        {
            let dev = device(&a.device)?;
            let (cfg, model, step) = pointer::load_trained(&a.run, dev)
                .with_context(|| format!("loading run {}", a.run.display()))?;
            let data = if a.data.is_empty() {
                cfg.data.eval.clone()
            } else {
                a.data.clone()
            };
            if data.is_empty() {
                bail!("the run has no [data] eval sets; pass --data DIR");
            }
            let records = read_records(&data, a.max)?;
            let enc = pointer::PointerEncoder::new(model.config().clone(), cfg.prep.clone());
            let spans = pointer::SpanIndex::load(&data)?;
            let examples = {
                let _heap = EncodingHeap::enter();
                pointer::train::encode_all(&enc, &records, &spans, 0)?
            };
            let report = pointer::evaluate(&model, &enc, &records, &examples)?;
            tracing::info!(
                step,
                n = records.len(),
                perceived = spans.len(),
                "evaluated checkpoint"
            );
            if a.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Command::Sft(a) => {
            let mut s = start(&a)?;
            let loss = sft::run_sft(&mut s)?;
            println!(
                "sft finished at step {} with loss {loss:.4}",
                s.cfg.sft.steps
            );
            finish(&s)
        }
        Command::Grpo(a) => {
            let mut s = start(&a)?;
            let reward = grpo::trainer::run_grpo(&mut s)?;
            println!(
                "grpo finished at step {} with mean reward {reward:.3}",
                s.cfg.grpo.steps
            );
            finish(&s)
        }
        Command::Eval(a) => {
            let dev = device(&a.device)?;
            let (cfg, tokenizer, model, step) = load_trained(&a.run, dev)
                .with_context(|| format!("loading run {}", a.run.display()))?;
            let data = if a.data.is_empty() {
                cfg.data.eval.clone()
            } else {
                a.data.clone()
            };
            if data.is_empty() {
                bail!("the run has no [data] eval sets; pass --data DIR");
            }
            let records = read_records(&data, a.max)?;
            let encoder = reticle_trainer::data::Encoder::new(
                tokenizer,
                cfg.prep.clone(),
                reticle_trainer::model::Policy::input_shape(&model),
            )?;
            let examples = {
                let _heap = EncodingHeap::enter();
                encode_all(&encoder, &records)?
            };
            let report = evaluate(
                &model,
                &encoder,
                &records,
                &examples,
                16,
                cfg.grpo.sample.max_new_tokens,
                &cfg.grpo.rewards,
            )?;
            tracing::info!(step, n = records.len(), "evaluated checkpoint");
            print_report(&report, a.json)
        }
        Command::Export(a) => export(&a),
        Command::Icons(a) => {
            let mut config = match &a.config {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading --config {}", p.display()))?;
                    toml::from_str(&text)
                        .with_context(|| format!("parsing --config {}", p.display()))?
                }
                None => reticle_trainer::icons::IconTrainConfig::default(),
            };
            if let Some(s) = a.steps {
                config.steps = s;
            }
            let job = reticle_trainer::icons::command::IconsJob {
                data: a.data,
                eval: a.eval,
                out: a.out,
                config,
                install: a.install,
            };
            let stage = reticle_trainer::icons::command::run(&job, device(&a.device)?)?;
            println!(
                "icon reader: {} classes, threshold {}, {} ({})",
                stage.classes.len(),
                stage.threshold,
                job.out.join(&stage.model.file).display(),
                stage.model.sha256
            );
            Ok(())
        }
        Command::Info { device: d } => {
            let cuda = tch::Cuda::is_available();
            println!("libtorch threads: {}", tch::get_num_threads());
            println!("cuda available:   {cuda}");
            if cuda {
                println!("cuda devices:     {}", tch::Cuda::device_count());
            }
            let dev = device(&d)?;
            let x = tch::Tensor::randn([256, 256], (tch::Kind::Float, dev));
            let y = x.matmul(&x).sum(tch::Kind::Float);
            let v = f64::try_from(y).context("reading a result back from the device")?;
            println!("device {dev:?}: ok (256x256 matmul sum {v:.3})");
            Ok(())
        }
    }
}

fn export(a: &ExportArgs) -> anyhow::Result<()> {
    use reticle_trainer::export::{self, parity};
    let opts = export::ExportOptions {
        force: a.force,
        name: a.name.clone(),
        external_data_above: Some(a.external_data_mib.saturating_mul(1 << 20)),
        quantize: a.quantize,
    };
    let report = export::export_package(&a.run, &a.out, &opts)
        .with_context(|| format!("exporting {}", a.run.display()))?;
    println!("exported step {} to {}", report.step, report.dir.display());
    for (file, size) in &report.files {
        println!("  {file:<28} {size:>12} bytes");
    }
    if a.check {
        let work = tempfile_dir()?;
        let r = if let Some(trained) = export::qwen_package::load_source(&a.run)? {
            // Quantised weights change the logits by design: measured, not bounded.
            let tolerance = match a.quantize {
                // (finite: the checker's JSON report cannot hold infinity)
                Some(_) => 1e30,
                None => export::qwen_package::TOLERANCE,
            };
            export::qwen_package::check_package(&trained, &report.dir, &work, tolerance)
        } else if export::pointer_package::is_pointer_source(&a.run)? {
            let trained = export::pointer_package::load_source(&a.run)?;
            export::pointer_package::check_package(
                &trained.model,
                &report.dir,
                &work,
                parity::DEFAULT_TOLERANCE,
            )
        } else {
            let trained = export::load_source(&a.run)?;
            parity::check_package(
                &trained.model,
                &report.dir,
                &work,
                parity::DEFAULT_TOLERANCE,
            )
        };
        let _ = std::fs::remove_dir_all(&work);
        let r = r.context("parity check")?;
        for (name, diff) in &r.diffs {
            println!("  {name:<28} max abs diff {diff:.3e}");
        }
        match a.quantize {
            Some(q) => println!(
                "parity measured ({} decoder weights): max abs diff {:.3e} (onnxruntime {})",
                q.name(),
                r.max_abs_diff,
                r.onnxruntime
            ),
            None => println!(
                "parity ok: max abs diff {:.3e} (tolerance {:.0e}, onnxruntime {})",
                r.max_abs_diff, r.tolerance, r.onnxruntime
            ),
        }
    }
    Ok(())
}

/// A fresh scratch folder for the parity fixture.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("reticle-export-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
