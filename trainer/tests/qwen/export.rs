//! `reticle-train export` of a `qwen2-vl` run: a few LoRA SFT steps on each family's tiny
//! checkpoint (so the adapters are not zero), then the package in the onnx-community layout
//! with the adapters merged, checked by `--check` (onnx.checker, then ONNX Runtime against tch
//! with the adapters on: image features, prompt embeddings, prefill and cached-step logits, the
//! KV cache) within 1e-3. The Qwen2.5-VL package keeps its weights in external data files.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use reticle_models::manifest::{Architecture, Manifest, PositionScheme};

use crate::train::reticle_train;
use crate::util::{config, dataset, grammar_checkpoint_of};

const SFT: &str = "[sft]\nsteps = 4\nbatch_size = 2\n\
                   [optim]\nlr = 1e-2\nwarmup_steps = 0\ntotal_steps = 4\n\
                   [run]\nseed = 3\n";

/// Trains family `family` briefly in `dir` and exports it with `--check`; returns the run,
/// the package and the parity figure.
fn train_and_export(
    dir: &Path,
    family: usize,
) -> Result<(std::path::PathBuf, std::path::PathBuf, f64)> {
    let ckpt = grammar_checkpoint_of(dir, family)?;
    let data = dataset(dir)?;
    let cfg = dir.join("sft.toml");
    std::fs::write(&cfg, config(&ckpt, &data, SFT))?;
    let run = dir.join("run");
    let pkg = dir.join("pkg");
    let s = |p: &Path| p.display().to_string();
    reticle_train(&[
        "sft",
        "--config",
        &s(&cfg),
        "--out",
        &s(&run),
        "--device",
        "cpu",
    ])?;
    // Qwen2.5-VL's weights go to external data files (as a real checkpoint's must).
    let external = if family == 1 { "0" } else { "1024" };
    let out = reticle_train(&[
        "export",
        "--run",
        &s(&run),
        "--out",
        &s(&pkg),
        "--check",
        "--external-data-mib",
        external,
    ])?;
    let line = out
        .lines()
        .find(|l| l.starts_with("parity ok"))
        .with_context(|| format!("no parity line in:\n{out}"))?;
    let diff: f64 = line
        .split_whitespace()
        .nth(5)
        .context("parity line")?
        .trim_end_matches(',')
        .parse()
        .with_context(|| line.to_string())?;
    println!("{}: {out}", crate::util::FAMILIES[family].0);
    Ok((run, pkg, diff))
}

#[test]
fn qwen_runs_export_with_merged_adapters_and_onnx_runtime_matches_tch() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    for family in 0..2 {
        let dir = tempfile::tempdir()?;
        let (run, pkg, diff) = train_and_export(dir.path(), family)?;
        ensure!(diff <= 1e-3, "parity {diff}");
        let m = Manifest::load(&pkg)?;
        ensure!(
            m.architecture == Architecture::Qwen2Vl,
            "{:?}",
            m.architecture
        );
        let q = m.qwen()?;
        ensure!(q.decoder.position_scheme == PositionScheme::Mrope);
        for file in m.files() {
            ensure!(pkg.join(&file).is_file(), "missing {file}");
        }
        let external = pkg.join("decoder_model_merged.onnx.data").is_file();
        ensure!(external == (family == 1), "external data: {external}");
        // Quantised decoders: the logits' change is measured by the same check.
        let f32_size = decoder_bytes(&pkg)?;
        for q in ["int8", "int4"] {
            let qpkg = dir.path().join(q);
            let s = |p: &Path| p.display().to_string();
            let out = reticle_train(&[
                "export",
                "--run",
                &s(&run),
                "--out",
                &s(&qpkg),
                "--check",
                "--quantize",
                q,
            ])?;
            let line = out
                .lines()
                .find(|l| l.starts_with("parity measured"))
                .with_context(|| format!("no parity line in:\n{out}"))?;
            let diff: f64 = line
                .split("max abs diff ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .context("parity line")?
                .parse()?;
            let size = decoder_bytes(&qpkg)?;
            println!(
                "{} {q}: decoder {size} bytes (f32 {f32_size}), max abs diff vs tch {diff:.3e}",
                crate::util::FAMILIES[family].0
            );
            ensure!(diff.is_finite() && diff > 0.0, "{q}: {diff}");
            ensure!(size < f32_size, "{q}: {size} ≥ {f32_size}");
            let m = Manifest::load(&qpkg)?;
            ensure!(m.description.contains(q), "{}", m.description);
        }
    }
    Ok(())
}

/// The decoder's bytes, its external data included.
fn decoder_bytes(pkg: &Path) -> Result<u64> {
    let mut n = 0;
    for f in [
        "decoder_model_merged.onnx",
        "decoder_model_merged.onnx.data",
    ] {
        if let Ok(m) = std::fs::metadata(pkg.join(f)) {
            n += m.len();
        }
    }
    Ok(n)
}

#[test]
fn a_downloaded_checkpoint_exports_as_given() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let dir = tempfile::tempdir()?;
    let ckpt = grammar_checkpoint_of(dir.path(), 1)?;
    let pkg = dir.path().join("pkg");
    let s = |p: &Path| p.display().to_string();
    // No run and no data: the parity prompt is the stock one, which this tokenizer knows
    // only partly — export without --check, then check the card and manifest.
    let out = reticle_train(&["export", "--checkpoint", &s(&ckpt), "--out", &s(&pkg)])?;
    ensure!(out.contains("exported step 0"), "{out}");
    let m = Manifest::load(&pkg)?;
    ensure!(m.description.contains("as given"), "{}", m.description);
    let card = std::fs::read_to_string(pkg.join("README.md"))?;
    ensure!(card.contains("none: the checkpoint as given"), "{card}");
    // A folder that is neither a run nor a checkpoint is refused by name.
    let err = reticle_train(&[
        "export",
        "--checkpoint",
        &s(dir.path()),
        "--out",
        &s(&dir.path().join("x")),
    ])
    .unwrap_err()
    .to_string();
    ensure!(err.contains("neither a run directory"), "{err}");
    Ok(())
}
