//! Latency of [`Grounder::ground`] per stage and end to end, against a Python peer measured
//! in the same run.
//!
//! `scripts/bench_runtime.sh` makes an untrained `small` package and runs this; by hand:
//! `RETICLE_BENCH_PACKAGE=PKG cargo bench -p reticle-runtime --bench ground`.
//!
//! Environment:
//! - `RETICLE_BENCH_PACKAGE` (required): the model package;
//! - `RETICLE_BENCH_PROVIDER`: `cpu` (default), `cuda`, `cuda:N`;
//! - `RETICLE_BENCH_ITERS` (default 30), `RETICLE_BENCH_WARMUP` (default 3);
//! - `RETICLE_BENCH_IMAGE`: a PNG/JPEG instead of the rendered 1280×800 `ui` screenshot;
//! - `RETICLE_BENCH_THREADS`: intra-op threads for both sides (default: ONNX Runtime's);
//! - `RETICLE_BENCH_PEER=0` skips the peer; `RETICLE_TOOLS_VENV` finds its Python.
//!
//! The peer, `runtime/benches/peer_ort.py`, runs the same package the way people prototype:
//! `onnxruntime` from Python, Pillow preprocessing and a numpy greedy loop. It gets the
//! prompt's token ids and the number of tokens to generate from here, so both sides do the
//! same work, and returns its token ids so the bench can check that both decoded alike.
//! Speed targets are checked and printed here, never asserted in tests: end to end at least
//! 2× faster than the peer, preprocessing at least 5×.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use image::DynamicImage;
use reticle_runtime::{DecodeOptions, Grounder, ImageInput, LoadOptions, Provider};
use reticle_suites::{self as suites, SuiteKind};

const INSTRUCTION: &str = "click the Save button";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;
const TARGET_END_TO_END: f64 = 2.0;
const TARGET_PREPROCESS: f64 = 5.0;

/// The bench's settings, read from the environment.
struct Config {
    package: PathBuf,
    provider: Provider,
    iters: usize,
    warmup: usize,
    image: Option<PathBuf>,
    threads: Option<usize>,
    peer: bool,
    python: PathBuf,
}

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a whole number")),
        Err(_) => Ok(default),
    }
}

impl Config {
    fn from_env() -> Result<Self> {
        let Some(package) = std::env::var_os("RETICLE_BENCH_PACKAGE").filter(|p| !p.is_empty())
        else {
            bail!(
                "RETICLE_BENCH_PACKAGE is not set: run `scripts/bench_runtime.sh`, which makes \
                 an untrained `small` package and runs this bench with it, or point \
                 RETICLE_BENCH_PACKAGE at a model package folder"
            );
        };
        let provider = match std::env::var("RETICLE_BENCH_PROVIDER") {
            Ok(p) if !p.trim().is_empty() => p.parse().context("RETICLE_BENCH_PROVIDER")?,
            _ => Provider::Cpu,
        };
        ensure!(
            provider != Provider::Auto,
            "RETICLE_BENCH_PROVIDER=auto: name the provider (cpu, cuda or cuda:N) so the \
             figures say what they measure"
        );
        let iters = env_usize("RETICLE_BENCH_ITERS", 30)?;
        ensure!(iters > 0, "RETICLE_BENCH_ITERS must be at least 1");
        let threads = match std::env::var("RETICLE_BENCH_THREADS") {
            Ok(_) => Some(env_usize("RETICLE_BENCH_THREADS", 0)?).filter(|&n| n > 0),
            Err(_) => None,
        };
        let venv = std::env::var_os("RETICLE_TOOLS_VENV")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle/tools-venv"))
            })
            .unwrap_or_else(|| PathBuf::from(".cache/reticle/tools-venv"));
        Ok(Self {
            package: PathBuf::from(package),
            provider,
            iters,
            warmup: env_usize("RETICLE_BENCH_WARMUP", 3)?,
            image: std::env::var_os("RETICLE_BENCH_IMAGE").map(PathBuf::from),
            threads,
            peer: std::env::var("RETICLE_BENCH_PEER").map_or(true, |v| v.trim() != "0"),
            python: venv.join("bin/python"),
        })
    }
}

/// p50 and p95 of one stage, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Quantiles {
    p50: f64,
    p95: f64,
}

/// Nearest-rank percentile (the peer uses the same rule).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn quantiles(samples: &[Duration]) -> Quantiles {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Quantiles {
        p50: percentile(&ms, 50.0),
        p95: percentile(&ms, 95.0),
    }
}

const STAGES: [&str; 4] = ["preprocess", "encode", "decode", "end_to_end"];

/// The peer's report (see `peer_ort.py`).
#[derive(Debug, serde::Deserialize)]
struct PeerReport {
    stages: std::collections::BTreeMap<String, PeerStage>,
    token_ids: Vec<u32>,
    versions: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
struct PeerStage {
    p50_ms: f64,
    p95_ms: f64,
}

/// The screenshot: `RETICLE_BENCH_IMAGE`, or the first 1280×800 `ui` sample of seed 1 written
/// to `dir` as PNG (the peer reads the file).
fn screenshot(cfg: &Config, dir: &Path) -> Result<(DynamicImage, PathBuf)> {
    if let Some(path) = &cfg.image {
        let image = reticle_models::preprocess::open_image(path)?;
        return Ok((image, path.clone()));
    }
    for index in 0..64 {
        let sample = suites::sample(SuiteKind::Ui, 1, index)?;
        if sample.image.dimensions() == (WIDTH, HEIGHT) {
            let path = dir.join("screenshot.png");
            sample
                .image
                .save(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok((DynamicImage::ImageRgb8(sample.image), path));
        }
    }
    bail!("no {WIDTH}x{HEIGHT} screenshot among the first 64 ui samples of seed 1")
}

/// Runs the peer script and parses its JSON.
fn run_peer(cfg: &Config, image: &Path, prompt: &[u32], n_tokens: usize) -> Result<PeerReport> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_ort.py");
    ensure!(
        cfg.python.is_file(),
        "{} is missing: run `scripts/setup.sh all` (the tools venv has onnxruntime, numpy and \
         pillow), or set RETICLE_BENCH_PEER=0 to skip the peer",
        cfg.python.display()
    );
    let args = serde_json::json!({
        "package": cfg.package,
        "image": image,
        "prompt_ids": prompt,
        "n_tokens": n_tokens,
        "iters": cfg.iters,
        "warmup": cfg.warmup,
        "threads": cfg.threads,
        "provider": cfg.provider.to_string(),
    });
    let out = Command::new(&cfg.python)
        .arg(&script)
        .arg(args.to_string())
        .output()
        .with_context(|| format!("cannot run {}", cfg.python.display()))?;
    ensure!(
        out.status.success(),
        "{} failed ({}): {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} printed no report: {}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn run() -> Result<()> {
    let cfg = Config::from_env()?;
    let tmp = tempfile::tempdir()?;
    let (image, image_path) = screenshot(&cfg, tmp.path())?;
    let load = LoadOptions {
        provider: cfg.provider,
        workers: 1,
        intra_threads: cfg.threads,
    };
    let t = Instant::now();
    let grounder = Grounder::load_with(&cfg.package, &load)
        .with_context(|| format!("cannot load {}", cfg.package.display()))?;
    let load_time = t.elapsed();
    let m = grounder.manifest();
    let d = m.vlm()?.decoder;
    println!(
        "reticle-runtime ground bench: {} ({}; {} layers × {}, {} image tokens, {}×{} input)",
        cfg.package.display(),
        m.description,
        d.num_layers,
        d.hidden_size,
        d.num_image_tokens,
        m.preprocess.width,
        m.preprocess.height
    );
    println!(
        "provider {}, intra-op threads {}, image {}×{} ({}), instruction {INSTRUCTION:?}, \
         greedy, {} iterations after {} warm-up, loaded in {:.0} ms",
        grounder.provider(),
        cfg.threads
            .map_or_else(|| "ONNX Runtime default".to_string(), |n| n.to_string()),
        image.width(),
        image.height(),
        image_path.display(),
        cfg.iters,
        cfg.warmup,
        load_time.as_secs_f64() * 1e3
    );

    let options = DecodeOptions::greedy();
    let mut samples: [Vec<Duration>; 4] = Default::default();
    let mut first: Option<(usize, String)> = None;
    for i in 0..cfg.warmup + cfg.iters {
        let t = Instant::now();
        let out = grounder.ground_with(ImageInput::Image(&image), None, INSTRUCTION, &options)?;
        let total = t.elapsed();
        match &first {
            None => first = Some((out.completion_tokens, out.text.clone())),
            Some((n, text)) => ensure!(
                *n == out.completion_tokens && *text == out.text,
                "greedy decoding is not repeatable: {n} tokens {text:?}, then {} tokens {:?}",
                out.completion_tokens,
                out.text
            ),
        }
        if i >= cfg.warmup {
            let tm = out.timings;
            for (s, v) in samples
                .iter_mut()
                .zip([tm.preprocess, tm.encode, tm.decode, total])
            {
                s.push(v);
            }
        }
    }
    // Set by the first iteration; `Config::from_env` ensures there is one.
    let (n_tokens, text) = first.context("no iteration ran")?;
    let ours: Vec<Quantiles> = samples.iter().map(|s| quantiles(s)).collect();
    println!(
        "generated {n_tokens} tokens per request: {:.0} tokens/s over the decode stage, \
         {:.0} tokens/s end to end (p50)",
        n_tokens as f64 / (ours[2].p50 / 1e3),
        n_tokens as f64 / (ours[3].p50 / 1e3)
    );

    let peer = if cfg.peer {
        let prompt = grounder.prompt_ids(INSTRUCTION)?;
        println!(
            "running the peer ({} runtime/benches/peer_ort.py) on the same package …",
            cfg.python.display()
        );
        match run_peer(&cfg, &image_path, &prompt, n_tokens) {
            Ok(report) => Some(report),
            Err(e) => {
                println!("peer unavailable, no ratios: {e:#}");
                None
            }
        }
    } else {
        None
    };

    println!();
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "stage (ms)", "ours p50", "ours p95", "peer p50", "peer p95", "p50 ratio", "p95 ratio"
    );
    let mut ratios = Vec::new();
    for (stage, q) in STAGES.iter().zip(&ours) {
        let p = peer.as_ref().and_then(|r| r.stages.get(*stage));
        let cell = |v: Option<f64>, suffix: &str| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}{suffix}"))
        };
        let r50 = p.map(|p| p.p50_ms / q.p50);
        let r95 = p.map(|p| p.p95_ms / q.p95);
        ratios.push(r50);
        println!(
            "{:<12} {:>10.2} {:>10.2} {:>10} {:>10} {:>12} {:>12}",
            stage.replace('_', " "),
            q.p50,
            q.p95,
            cell(p.map(|p| p.p50_ms), ""),
            cell(p.map(|p| p.p95_ms), ""),
            cell(r50, "×"),
            cell(r95, "×"),
        );
    }
    let Some(peer) = peer else {
        return Ok(());
    };
    println!("(ratio = peer / ours: above 1 means reticle-runtime is faster)");
    let versions: Vec<String> = peer
        .versions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("peer: {}", versions.join(", "));

    for (name, ratio, target) in [
        ("end to end", ratios[3], TARGET_END_TO_END),
        ("preprocessing", ratios[0], TARGET_PREPROCESS),
    ] {
        // A ratio is missing only when the peer's report lacks that stage.
        let Some(r) = ratio else {
            println!("target {name} ≥ {target}× the peer: the peer reported no figure");
            continue;
        };
        let verdict = if r >= target { "met" } else { "NOT MET" };
        println!("target {name} ≥ {target:.0}× faster than the peer (p50): {r:.2}× — {verdict}");
    }

    // Agreement: the peer's ids, read the way the runtime reads its own (up to <eos>,
    // padding dropped), must give the same completion text.
    let tok = grounder.tokenizer();
    let special = m.vlm()?.special_tokens;
    let eos = tok.token_id(&special.eos)?;
    let pad = tok.token_id(&special.pad)?;
    let kept: Vec<u32> = peer
        .token_ids
        .iter()
        .copied()
        .take_while(|&t| t != eos)
        .filter(|&t| t != pad)
        .collect();
    let peer_text = tok.decode(&kept)?;
    if peer.token_ids.len() == n_tokens && peer_text == text {
        println!("agreement: the peer generated the same {n_tokens} tokens ({text:?})");
    } else {
        println!(
            "agreement: NO — ours {n_tokens} tokens {text:?}, the peer's {} tokens {peer_text:?}",
            peer.token_ids.len()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
