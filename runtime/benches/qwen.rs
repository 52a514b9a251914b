//! Decoding speed of a `qwen2-vl` package through [`QwenPolicy`] — time to first token and
//! tokens/s on a text prompt, and one screenshot grounded end to end — against peers measured
//! in the same run.
//!
//! `scripts/bench_qwen.sh` runs it (it makes the random checkpoint, exports it, runs the
//! onnxruntime-genai peer first and hands its JSON line over); by hand:
//! `RETICLE_BENCH_PACKAGE=PKG cargo bench -p reticle-runtime --bench qwen`.
//!
//! Environment:
//! - `RETICLE_BENCH_PACKAGE`: packages with `"architecture": "qwen2-vl"`, `:`-separated (the
//!   first is the reference: the others' greedy tokens are compared with its own, e.g. an
//!   f32 and an int4 export of one checkpoint);
//! - `RETICLE_BENCH_PROMPT_TOKENS` (64), `RETICLE_BENCH_NEW_TOKENS` (32),
//!   `RETICLE_BENCH_REPEATS` (5), `RETICLE_BENCH_WARMUP` (1), `RETICLE_BENCH_THREADS`
//!   (intra-op threads, both sides; default ONNX Runtime's);
//! - `RETICLE_BENCH_PEERS`: files holding peers' JSON lines measured just before (the
//!   onnxruntime-genai peer, `scripts/bench/genai_peer.py`, on its own export of the same
//!   checkpoint);
//! - `RETICLE_BENCH_PEER=0` skips the Python onnxruntime peer (`runtime/benches/peer_qwen.py`,
//!   on this package's graphs), run here after our figures.
//!
//! The text prompt is token ids `(100 + 7919 i) % min(vocab, 151643)` on every side, with
//! M-RoPE positions whose three rows are equal (no image); greedy; the Python peer's ids must
//! equal ours. Time to first token = token embedding + the prefill + the first pick;
//! tokens/s over the remaining steps; best of the repeats on each side. The screenshot case
//! (1280×800, the processor's own resolution) has no peer: onnxruntime-genai 0.18 exports no
//! vision encoder for this family.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use reticle_models::manifest::{Architecture, Manifest};
use reticle_runtime::{DecodeOptions, LoadOptions, Provider, QwenPolicy};
use serde_json::Value;

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().with_context(|| format!("{name}={v}")),
        _ => Ok(default),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Best time to first token and best tokens/s over `repeats` runs after `warmup`, and the ids.
fn text_case(
    policy: &QwenPolicy,
    prompt: &[i64],
    new_tokens: usize,
    warmup: usize,
    repeats: usize,
) -> Result<(f64, f64, Vec<i64>)> {
    let options = DecodeOptions {
        max_new_tokens: Some(new_tokens),
        ..DecodeOptions::greedy()
    };
    let (mut ttft, mut speed, mut ids) = (f64::INFINITY, 0f64, Vec::new());
    for i in 0..warmup + repeats {
        let (got, t) = policy.generate_from_ids(prompt, &options)?;
        if i < warmup {
            continue;
        }
        ttft = ttft.min(ms(t.first_token));
        let rest = (t.decode - t.first_token).as_secs_f64();
        if got.len() > 1 && rest > 0.0 {
            speed = speed.max((got.len() - 1) as f64 / rest);
        }
        ids = got;
    }
    Ok((ttft, speed, ids))
}

/// A 1280×800 screenshot-like image: panels, bars and text-like stripes.
fn screenshot() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(1280, 800, |x, y| {
        let panel = (x / 320 + y / 200) % 3;
        let stripe = u8::from(y % 24 < 3 && x % 200 < 150);
        image::Rgb([
            200 - 40 * panel as u8,
            220 - 60 * stripe,
            240 - 30 * ((x / 40) % 2) as u8,
        ])
    }))
}

/// The bench's settings, read from the environment.
struct Config {
    prompt_tokens: usize,
    new_tokens: usize,
    repeats: usize,
    warmup: usize,
    threads: Option<usize>,
    peer: bool,
}

/// One row of the table: who, time to first token, tokens/s, tokens generated.
type Row = (String, f64, f64, usize);

/// The Python onnxruntime peer on `package`'s graphs; its ids must equal `ids`.
fn python_peer(package: &Path, cfg: &Config, ids: &[i64]) -> Result<Row> {
    let venv = std::env::var("RETICLE_TOOLS_VENV").unwrap_or_else(|_| {
        format!(
            "{}/.cache/reticle/tools-venv",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peer_qwen.py");
    let mut cmd = Command::new(PathBuf::from(venv).join("bin/python"));
    cmd.arg(&script)
        .arg(package)
        .args(["--prompt-tokens", &cfg.prompt_tokens.to_string()])
        .args(["--new-tokens", &cfg.new_tokens.to_string()])
        .args(["--repeats", &cfg.repeats.to_string()])
        .args(["--warmup", &cfg.warmup.to_string()]);
    if let Some(t) = cfg.threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    let out = cmd.output().context("running the Python peer")?;
    ensure!(
        out.status.success(),
        "python peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(
        out.stdout
            .split(|&b| b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )?;
    let peer_ids: Vec<i64> = serde_json::from_value(v["ids"].clone())?;
    ensure!(
        peer_ids == ids,
        "the Python peer generated {peer_ids:?}, reticle {ids:?}"
    );
    Ok((
        format!("  Python onnxruntime {} (same graphs)", v["version"]),
        v["ttft_ms"].as_f64().unwrap_or(f64::NAN),
        v["tokens_per_s"].as_f64().unwrap_or(f64::NAN),
        peer_ids.len(),
    ))
}

/// The figures of one package: its rows, its ids, and the screenshot case's line.
fn bench_package(package: &Path, cfg: &Config) -> Result<(Vec<Row>, Vec<i64>, String)> {
    let manifest = Manifest::load(package)?;
    if manifest.architecture != Architecture::Qwen2Vl {
        bail!(
            "{} is a `{}` package; this bench needs `qwen2-vl`",
            package.display(),
            manifest.architecture
        );
    }
    let started = Instant::now();
    let policy = QwenPolicy::load_with(
        package,
        &LoadOptions {
            provider: Provider::Cpu,
            workers: 1,
            intra_threads: cfg.threads,
        },
    )?;
    let load = started.elapsed();
    let d = manifest.qwen()?.decoder;
    let vocab = d.vocab_size as i64;
    let prompt: Vec<i64> = (0..cfg.prompt_tokens as i64)
        .map(|i| (100 + 7919 * i) % vocab.min(151_643))
        .collect();
    println!(
        "package {} ({}; {} layers, hidden {}, vocab {}), loaded in {:.0} ms",
        package.display(),
        manifest.description,
        d.num_layers,
        d.hidden_size,
        d.vocab_size,
        ms(load),
    );
    let (ttft, speed, ids) = text_case(&policy, &prompt, cfg.new_tokens, cfg.warmup, cfg.repeats)?;
    let name = package
        .file_name()
        .map_or("package".into(), |n| n.to_string_lossy().into_owned());
    let mut rows = vec![(
        format!("reticle (Rust, ort 1.24), {name}"),
        ttft,
        speed,
        ids.len(),
    )];
    if cfg.peer {
        rows.push(python_peer(package, cfg, &ids)?);
    }

    // One screenshot end to end (no peer runs the vision encoder of this family).
    let image = screenshot();
    let options = DecodeOptions {
        max_new_tokens: Some(cfg.new_tokens),
        ..DecodeOptions::greedy()
    };
    let total =
        |g: &reticle_runtime::Grounding| g.timings.preprocess + g.timings.encode + g.timings.decode;
    let mut best: Option<reticle_runtime::Grounding> = None;
    for _ in 0..cfg.repeats.min(3) {
        let g = policy.ground(
            reticle_runtime::ImageInput::Image(&image),
            None,
            "click the blue button",
            &options,
        )?;
        if best.as_ref().is_none_or(|b| total(&g) < total(b)) {
            best = Some(g);
        }
    }
    let image_tokens = policy
        .prompter()
        .processor()
        .n_image_tokens(800, 1280)
        .unwrap_or(0);
    let line = best.map_or(String::new(), |g| {
        let t = g.timings;
        format!(
            "{name}: 1280×800 screenshot, {image_tokens} image tokens: processor {:.1} ms, vision encoder {:.1} ms, \
             prefill to first token {:.1} ms, then {} tokens in {:.1} ms",
            ms(t.preprocess),
            ms(t.encode),
            ms(t.first_token),
            g.completion_tokens.saturating_sub(1),
            ms(t.decode - t.first_token),
        )
    });
    Ok((rows, ids, line))
}

/// A peer's JSON line (from `RETICLE_BENCH_PEERS`) as a row, its first tokens checked
/// against `ids`.
fn file_peer(file: &str, ids: &[i64]) -> Result<Row> {
    let text = std::fs::read_to_string(file).with_context(|| file.to_string())?;
    let v: Value = serde_json::from_str(text.lines().rfind(|l| !l.is_empty()).unwrap_or(""))
        .with_context(|| format!("{file}: no JSON line"))?;
    // The genai export is the same checkpoint: its first greedy tokens should be ours.
    if let Ok(first) = serde_json::from_value::<Vec<i64>>(v["first_tokens"].clone()) {
        let n = first.len().min(ids.len());
        println!(
            "{file}: its first {n} greedy tokens {} the first package's",
            if first[..n] == ids[..n] {
                "equal"
            } else {
                "DIFFER from"
            }
        );
    }
    Ok((
        format!(
            "{} {} ({} export, {})",
            v["peer"].as_str().unwrap_or("peer"),
            v["version"].as_str().unwrap_or(""),
            v["model_type"].as_str().unwrap_or("its own"),
            v["precision"].as_str().unwrap_or("?")
        ),
        v["ttft_ms"].as_f64().unwrap_or(f64::NAN),
        v["tokens_per_s"].as_f64().unwrap_or(f64::NAN),
        v["new_tokens"].as_u64().unwrap_or(0) as usize,
    ))
}

fn run() -> Result<()> {
    let packages: Vec<PathBuf> = std::env::var("RETICLE_BENCH_PACKAGE")
        .context("set RETICLE_BENCH_PACKAGE to a qwen2-vl package (scripts/bench_qwen.sh)")?
        .split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    let cfg = Config {
        prompt_tokens: env_usize("RETICLE_BENCH_PROMPT_TOKENS", 64)?,
        new_tokens: env_usize("RETICLE_BENCH_NEW_TOKENS", 32)?,
        repeats: env_usize("RETICLE_BENCH_REPEATS", 5)?.max(1),
        warmup: env_usize("RETICLE_BENCH_WARMUP", 1)?,
        threads: match env_usize("RETICLE_BENCH_THREADS", 0)? {
            0 => None,
            n => Some(n),
        },
        peer: std::env::var("RETICLE_BENCH_PEER").as_deref() != Ok("0"),
    };
    println!(
        "{} threads",
        cfg.threads.map_or("default".into(), |t| t.to_string())
    );
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    let mut first_ids: Option<Vec<i64>> = None;
    for package in &packages {
        let (r, ids, line) = bench_package(package, &cfg)?;
        if let Some(first) = &first_ids {
            let same = first.iter().zip(&ids).take_while(|(a, b)| a == b).count();
            println!(
                "{}: the first {same} of {} greedy tokens equal the first package's",
                package.display(),
                ids.len()
            );
        } else {
            first_ids = Some(ids);
        }
        rows.extend(r);
        lines.push(line);
    }
    let ids = first_ids.context("no package")?;
    for file in std::env::var("RETICLE_BENCH_PEERS")
        .unwrap_or_default()
        .split(':')
        .filter(|f| !f.is_empty())
    {
        rows.push(file_peer(file, &ids)?);
    }
    println!(
        "\ntext prompt of {} tokens, {} new tokens, greedy, best of {}:",
        cfg.prompt_tokens, cfg.new_tokens, cfg.repeats
    );
    println!(
        "{:<58} {:>10} {:>10} {:>8} {:>14}",
        "side", "ttft ms", "tok/s", "tokens", "first ÷ it"
    );
    let ours = rows[0].2;
    for (name, ttft, speed, n) in &rows {
        println!(
            "{name:<58} {ttft:>10.1} {speed:>10.1} {n:>8} {:>13.2}×",
            ours / speed
        );
    }
    println!();
    for line in lines {
        println!("{line}");
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
