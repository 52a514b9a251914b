//! `reticle-train sft|grpo` on the tiny random Qwen2.5-VL checkpoint with LoRA, through the
//! same loops as the other architectures: SFT lowers the loss, checkpoints hold only the
//! adapters, `--resume` continues to the same adapters as an uninterrupted run, and GRPO
//! (after SFT, `--init`) logs finite rewards, loss and a non-zero KL to the base model; the
//! Qwen2-VL checkpoint answers in `norm1000` and trains too.
//!
//! The peer's tokenizer knows 20 words; the copy used here also knows the answer grammar
//! (`<answer>`, `</answer>`, `<think>`, `</think>` and single digits as added tokens, decoded
//! without spaces), so the rewards can read what the model writes.

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use reticle_trainer::qwen::QwenSession;
use reticle_trainer::session::StartOptions;
use reticle_trainer::sft::run_sft;
use serde_json::Value;
use tch::Device;

use crate::util::{config, dataset, grammar_checkpoint, grammar_checkpoint_of};

const SFT: &str = "[sft]\nsteps = 16\nbatch_size = 2\n\
                   [optim]\nlr = 1e-2\nwarmup_steps = 0\ntotal_steps = 16\n\
                   [run]\nseed = 3\ncheckpoint_every = 8\n";

fn metric(run: &Path, phase: &str, key: &str) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl"))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["phase"] == phase)
        .filter_map(|v| v[key].as_f64())
        .collect())
}

fn adapters(run: &Path, step: u64) -> Result<Vec<(String, tch::Tensor)>> {
    let mut named = tch::Tensor::read_safetensors(
        run.join(format!("checkpoints/step-{step:06}/model.safetensors")),
    )?;
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

fn start(out: &Path, config_toml: Option<String>, resume: bool) -> Result<QwenSession> {
    Ok(QwenSession::start(&StartOptions {
        out: out.to_path_buf(),
        config_toml,
        resume,
        init: None,
        device: Device::Cpu,
    })?)
}

#[test]
fn qwen_lora_sft_lowers_the_loss_saves_only_adapters_and_resumes() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let dir = tempfile::tempdir()?;
    let ckpt = grammar_checkpoint(dir.path())?;
    let data = dataset(dir.path())?;
    let cfg = config(&ckpt, &data, SFT);
    let started = std::time::Instant::now();

    let straight = dir.path().join("straight");
    let mut s = start(&straight, Some(cfg.clone()), false)?;
    let target: Vec<i64> = s.examples[0].target_ids.clone();
    let text = s.encoder.decode(&target)?;
    ensure!(
        text == "<answer>(37,23)</answer>",
        "reference answer {text:?} ({target:?})"
    );
    run_sft(&mut s)?;
    let losses = metric(&straight, "sft", "loss")?;
    ensure!(losses.len() == 16, "{} sft rows", losses.len());
    ensure!(
        losses.iter().all(|l| l.is_finite()),
        "non-finite loss {losses:?}"
    );
    let (first, last) = (losses[0], losses[15]);
    println!(
        "qwen2.5-vl LoRA r=4, 16 SFT steps on 2 records: loss {first:.3} → {last:.3} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    ensure!(last < 0.5 * first, "loss {first} → {last}: {losses:?}");

    // A checkpoint holds the adapters only: A and B of the 14 adapted decoder layers.
    let saved = adapters(&straight, 16)?;
    ensure!(
        saved.len() == 28,
        "{} tensors in the checkpoint",
        saved.len()
    );
    ensure!(
        saved
            .iter()
            .all(|(n, _)| n.starts_with("model.layers.") && n.contains(".lora_")),
        "{:?}",
        saved.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );

    // Interrupted after 8 steps, resumed to 16: the same adapters.
    let resumed = dir.path().join("resumed");
    let mut s = start(&resumed, Some(cfg), false)?;
    s.cfg.sft.steps = 8;
    run_sft(&mut s)?;
    drop(s);
    let mut s = start(&resumed, None, true)?;
    ensure!(s.start_step == 8, "resumed at step {}", s.start_step);
    run_sft(&mut s)?;
    let again = adapters(&resumed, 16)?;
    for ((name, a), (_, b)) in saved.iter().zip(&again) {
        let diff = f64::try_from((a - b).abs().max())?;
        ensure!(diff < 1e-5, "{name} differs by {diff} after resuming");
    }
    ensure!(
        metric(&resumed, "sft", "loss")?.len() == 16,
        "resumed metrics rows"
    );
    // `[data] eval` is evaluated at the end of a run (greedy decoding, the shared metrics).
    let format_rate = metric(&straight, "eval", "format_rate")?;
    ensure!(
        format_rate.len() == 1 && format_rate[0].is_finite(),
        "eval rows {format_rate:?}"
    );
    Ok(())
}

/// Runs `reticle-train` and returns its standard output.
pub(crate) fn reticle_train(args: &[&str]) -> Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_reticle-train"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .context("starting reticle-train")?;
    ensure!(
        out.status.success(),
        "reticle-train {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn qwen_lora_grpo_runs_end_to_end_through_reticle_train() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let dir = tempfile::tempdir()?;
    let ckpt = grammar_checkpoint(dir.path())?;
    let data = dataset(dir.path())?;
    let started = std::time::Instant::now();
    let sft_cfg = dir.path().join("sft.toml");
    // Longer than the SFT test's run, so that samples follow the grammar.
    std::fs::write(
        &sft_cfg,
        config(
            &ckpt,
            &data,
            &SFT.replace("16", "48").replace("lr = 1e-2", "lr = 2e-2"),
        ),
    )?;
    let sft_run = dir.path().join("sft");
    let s = |p: &Path| p.display().to_string();
    reticle_train(&[
        "sft",
        "--config",
        &s(&sft_cfg),
        "--out",
        &s(&sft_run),
        "--device",
        "cpu",
    ])?;

    let grpo_cfg = dir.path().join("grpo.toml");
    std::fs::write(
        &grpo_cfg,
        config(
            &ckpt,
            &data,
            "[grpo]\nsteps = 3\nbatch_prompts = 2\ngroup_size = 4\ndynamic_sampling = false\n\
             [grpo.sample]\ntemperature = 0.7\nmax_new_tokens = 12\n\
             [grpo.loss]\nbeta = 0.04\n\
             [optim]\nlr = 1e-3\nwarmup_steps = 0\ntotal_steps = 3\n[run]\nseed = 5\n",
        ),
    )?;
    let grpo_run = dir.path().join("grpo");
    reticle_train(&[
        "grpo",
        "--config",
        &s(&grpo_cfg),
        "--out",
        &s(&grpo_run),
        "--init",
        &s(&sft_run),
        "--device",
        "cpu",
    ])?;
    let sft_loss = metric(&sft_run, "sft", "loss")?;
    let reward = metric(&grpo_run, "grpo", "reward")?;
    let format = metric(&grpo_run, "grpo", "reward/format")?;
    let loss = metric(&grpo_run, "grpo", "loss")?;
    let kl = metric(&grpo_run, "grpo", "kl")?;
    println!(
        "qwen2.5-vl LoRA SFT loss {:.3} → {:.3}, then GRPO 3 steps × 2 prompts × 4 samples: reward {reward:.3?}, \
         format {format:.3?}, loss {loss:.4?}, kl {kl:.5?} ({:.1} s with SFT)",
        sft_loss.first().copied().unwrap_or(f64::NAN),
        sft_loss.last().copied().unwrap_or(f64::NAN),
        started.elapsed().as_secs_f64()
    );
    ensure!(
        reward.len() == 3 && loss.len() == 3 && kl.len() == 3,
        "rows"
    );
    ensure!(
        reward.iter().chain(&loss).chain(&kl).all(|v| v.is_finite()),
        "non-finite values"
    );
    // After SFT some samples follow the grammar, so the rewards read them.
    ensure!(format.iter().any(|&f| f > 0.0), "format reward {format:?}");
    // The reference is the base without adapters: the SFT adapters make the KL non-zero.
    ensure!(kl[0] > 1e-6, "kl {kl:?}");
    ensure!(
        grpo_run.join("plots").read_dir()?.next().is_some(),
        "no plots"
    );
    let saved = adapters(&grpo_run, 3)?;
    ensure!(
        saved.len() == 28 && saved.iter().all(|(n, _)| n.contains(".lora_")),
        "the GRPO checkpoint holds more than the adapters"
    );
    // `reticle-train eval` on the run: greedy answers for both records, with metrics.
    let report: Value = serde_json::from_str(&reticle_train(&[
        "eval",
        "--run",
        &s(&grpo_run),
        "--json",
        "--device",
        "cpu",
    ])?)?;
    let samples = report["samples"].as_array().context("no samples")?;
    ensure!(
        samples.len() == 2 && report["summary"]["format_rate"].is_number(),
        "{report}"
    );
    let greedy: Vec<&Value> = samples.iter().map(|x| &x["completion"]).collect();
    println!("greedy after GRPO: {greedy:?}");
    // Both greedy clicks land in their boxes (measured: exactly the reference answers).
    let accuracy = report["summary"]["tasks"][0]["accuracy"].as_f64();
    ensure!(accuracy == Some(1.0), "accuracy {accuracy:?}: {greedy:?}");
    Ok(())
}

#[test]
fn qwen2_vl_answers_in_norm1000_and_trains() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let dir = tempfile::tempdir()?;
    let ckpt = grammar_checkpoint_of(dir.path(), 0)?;
    let data = dataset(dir.path())?;
    let sft = SFT.replace("steps = 16", "steps = 2");
    let out = dir.path().join("run");
    let mut s = start(&out, Some(config(&ckpt, &data, &sft)), false)?;
    // The box centre (40,25) of the 150×90 image in thousandths: (266.7, 277.8).
    let text = s.encoder.decode(&s.examples[0].target_ids)?;
    ensure!(text == "<answer>(267,278)</answer>", "{text:?}");
    let loss = run_sft(&mut s)?;
    ensure!(loss.is_finite(), "loss {loss}");
    ensure!(adapters(&out, 2)?.len() == 28, "adapter tensors");
    Ok(())
}

#[test]
fn a_missing_checkpoint_is_refused_before_the_run_folder_exists() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let dir = tempfile::tempdir()?;
    let data = dataset(dir.path())?;
    let missing = dir.path().join("no-such-checkpoint");
    let out = dir.path().join("run");
    let err = start(&out, Some(config(&missing, &data, SFT)), false)
        .expect_err("a missing checkpoint folder must fail")
        .to_string();
    ensure!(err.contains("no-such-checkpoint"), "{err}");
    ensure!(!out.exists(), "the run folder was created");
    Ok(())
}
