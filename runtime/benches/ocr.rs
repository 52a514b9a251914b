//! Latency of the text reader per screenshot — cold, unchanged screen (incremental), one
//! dialog changed (incremental) — against the Python peer (`rapidocr` 3.10 on `onnxruntime`,
//! the same two graphs, the same thread count) measured in the same run.
//!
//! `scripts/bench_ocr.sh` runs it; by hand: `cargo bench -p reticle-runtime --bench ocr`.
//!
//! Environment:
//! - `RETICLE_BENCH_ITERS` (default 20), `RETICLE_BENCH_THREADS` (default 2, both sides);
//! - `RETICLE_BENCH_SCREENS` (default 3 per resolution, 1280×800 and 1920×1080, `ui` suite
//!   seed 31337 — never a training seed);
//! - `RETICLE_BENCH_DET_SCALE`: the reader's `det_scale` (default: the reader's default);
//! - `RETICLE_BENCH_PEER=0` skips the peer; `RETICLE_TOOLS_VENV` finds its Python.
//!
//! Targets, printed and never asserted: ≥ 2× the peer cold, ≤ 250 ms p50 cold at 1280×800,
//! ≤ 30 ms for an unchanged screen.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use image::{DynamicImage, GenericImage, GenericImageView};
use reticle_models::text::OcrConfig;
use reticle_runtime::perception::{IncrementalReader, OcrFiles, ReaderOptions, TextReader};
use reticle_runtime::Provider;
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a whole number")),
        Err(_) => Ok(default),
    }
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn screen(seed: u64, index: usize, size: [u32; 2]) -> Result<DynamicImage> {
    let mut cfg = SuiteConfig::new(SuiteKind::Ui, index + 1, seed);
    cfg.ui.resolutions = vec![size];
    cfg.ui.other_resolution_rate = 0.0;
    cfg.ui.scales = vec![1.0];
    Ok(DynamicImage::ImageRgb8(
        suites::sample_with(&cfg, index)?.image,
    ))
}

/// `a` with a third of another screen pasted on it: a dialog appearing.
fn with_dialog(a: &DynamicImage, other: &DynamicImage) -> Result<DynamicImage> {
    let (w, h) = (a.width(), a.height());
    let other = other.to_rgb8();
    let patch = other.view(w / 4, h / 4, w / 3, h / 4).to_image();
    let mut b = a.to_rgb8();
    b.copy_from(&patch, w / 3 + 7, h / 3 + 5)?;
    Ok(DynamicImage::ImageRgb8(b))
}

struct Row {
    size: [u32; 2],
    cold: Vec<f64>,
    unchanged: Vec<f64>,
    changed: Vec<f64>,
    peer: Vec<(f64, f64)>,
}

fn run() -> Result<()> {
    let iters = env_usize("RETICLE_BENCH_ITERS", 20)?.max(1);
    let threads = env_usize("RETICLE_BENCH_THREADS", 2)?;
    let n_screens = env_usize("RETICLE_BENCH_SCREENS", 3)?.max(1);
    let mut cfg = OcrConfig::default();
    if let Ok(s) = std::env::var("RETICLE_BENCH_DET_SCALE") {
        cfg.det_scale = s.parse().context("RETICLE_BENCH_DET_SCALE")?;
    }
    let peer = std::env::var("RETICLE_BENCH_PEER").map_or(true, |v| v != "0");
    let files = OcrFiles::default_files()?;
    let reader = Arc::new(TextReader::load(
        &files,
        &cfg,
        &ReaderOptions {
            provider: Provider::Cpu,
            intra_threads: Some(threads),
        },
    )?);
    let tmp = tempfile::tempdir()?;
    println!(
        "text reader bench: {iters} iterations, {threads} threads, det_scale {}, {n_screens} screens per size (ui seed 31337)",
        cfg.det_scale
    );
    let mut rows = Vec::new();
    for size in [[1280u32, 800u32], [1920, 1080]] {
        let mut row = Row {
            size,
            cold: vec![],
            unchanged: vec![],
            changed: vec![],
            peer: vec![],
        };
        let mut paths = Vec::new();
        for i in 0..n_screens {
            let a = screen(31337, i, size)?;
            let b = with_dialog(&a, &screen(31338, i, size)?)?;
            let path = tmp
                .path()
                .join(format!("screen-{}x{}-{i}.png", size[0], size[1]));
            a.save(&path)?;
            paths.push(path);
            reader.read(&a)?; // warm-up
            for _ in 0..iters {
                let t = Instant::now();
                reader.read(&a)?;
                row.cold.push(ms(t.elapsed()));
            }
            let mut inc = IncrementalReader::new(Arc::clone(&reader));
            inc.read(&a)?;
            for _ in 0..iters {
                let t = Instant::now();
                let (_, s) = inc.read(&a)?;
                row.unchanged.push(ms(t.elapsed()));
                assert_eq!(s.changed_tiles, 0);
            }
            for k in 0..iters {
                let img = if k % 2 == 0 { &b } else { &a };
                let t = Instant::now();
                inc.read(img)?;
                row.changed.push(ms(t.elapsed()));
            }
        }
        if peer {
            row.peer = run_peer(&paths, iters, threads)?;
        }
        rows.push(row);
    }
    println!();
    println!("| screenshot | cold p50 / p95 | unchanged p50 / p95 | one dialog changed p50 / p95 | peer (rapidocr) p50 / p95 | cold speed-up |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let (p50, p95) = (pct(r.cold.clone(), 0.5), pct(r.cold.clone(), 0.95));
        let peer = if r.peer.is_empty() {
            ("not run".to_string(), "–".to_string())
        } else {
            let pp50 = pct(r.peer.iter().map(|p| p.0).collect(), 0.5);
            let pp95 = pct(r.peer.iter().map(|p| p.1).collect(), 0.5);
            (
                format!("{pp50:.1} / {pp95:.1} ms"),
                format!("{:.2}×", pp50 / p50),
            )
        };
        println!(
            "| {}×{} | {p50:.1} / {p95:.1} ms | {:.2} / {:.2} ms | {:.1} / {:.1} ms | {} | {} |",
            r.size[0],
            r.size[1],
            pct(r.unchanged.clone(), 0.5),
            pct(r.unchanged.clone(), 0.95),
            pct(r.changed.clone(), 0.5),
            pct(r.changed.clone(), 0.95),
            peer.0,
            peer.1
        );
    }
    println!();
    println!("targets (this 2-core machine): cold ≥ 2× the peer, ≤ 250 ms p50 cold at 1280×800, ≤ 30 ms unchanged");
    Ok(())
}

/// The peer's p50/p95 per image, from `scripts/ocr_peer.py bench`.
fn run_peer(paths: &[PathBuf], iters: usize, threads: usize) -> Result<Vec<(f64, f64)>> {
    let venv = std::env::var_os("RETICLE_TOOLS_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle/tools-venv"))
        })
        .context("no RETICLE_TOOLS_VENV or HOME")?;
    let python = venv.join("bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ocr_peer.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([
            "bench",
            "--iters",
            &iters.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args(paths)
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        bail!("the peer failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut res = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("peer line {line}"))?;
        let (Some(p50), Some(p95)) = (v["p50_ms"].as_f64(), v["p95_ms"].as_f64()) else {
            bail!("peer line without p50_ms/p95_ms: {line}");
        };
        res.push((p50, p95));
    }
    Ok(res)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocr bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
