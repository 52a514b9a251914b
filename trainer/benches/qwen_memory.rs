//! Qwen LoRA training memory with and without gradient checkpointing
//! (`[model] gradient_checkpointing`), measured in the same run: one GRPO-shaped forward and
//! backward pass — a text prompt of `P` tokens, `G` completions of `T` tokens, the per-token
//! log-probabilities of the completions, their sum back-propagated into LoRA adapters
//! (rank 16 on q/k/v/o/gate/up/down). Each mode runs in its own process, so each peak resident
//! set (`VmHWM`) is its own; the figure that matters is the peak above the resident set right
//! before the first pass (the activations and the backward working set).
//!
//! ```sh
//! scripts/bench_qwen.sh                     # makes the random checkpoint (hidden 512, 4 layers)
//! source scripts/env.sh
//! RETICLE_BENCH_CHECKPOINT=$RETICLE_CACHE/bench-qwen/ckpt cargo bench -p reticle-trainer --bench qwen_memory
//! RETICLE_BENCH_PROMPT=1024 RETICLE_BENCH_GROUP=4 RETICLE_BENCH_COMPLETION=128 …   # the defaults
//! ```

// A benchmark binary: failing loudly is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use reticle_models::qwen::CheckpointDir;
use reticle_trainer::model::qwen::lora::LoraConfig;
use reticle_trainer::model::qwen::QwenVl;
use tch::{Device, Kind};

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One mode, in this process: prints `mode before_mib peak_mib step_ms loss`.
fn child(checkpointing: bool) {
    let dir = PathBuf::from(std::env::var("RETICLE_BENCH_CHECKPOINT").expect("checkpoint"));
    let (p, g, t) = (
        env_usize("RETICLE_BENCH_PROMPT", 1024),
        env_usize("RETICLE_BENCH_GROUP", 4),
        env_usize("RETICLE_BENCH_COMPLETION", 128),
    );
    tch::set_num_threads(2);
    let ckpt = CheckpointDir::open(&dir).expect("checkpoint folder");
    let mut model = QwenVl::load_as(&ckpt, Device::Cpu, Kind::Float).expect("load");
    tch::manual_seed(0);
    model
        .add_lora(&LoraConfig {
            rank: 16,
            alpha: 32.0,
            dropout: 0.0,
            ..LoraConfig::default()
        })
        .expect("adapters");
    model.set_gradient_checkpointing(checkpointing);
    model.set_training(true);
    // Spread-out ids well inside the vocabulary, none of them a vision token.
    let prompt: Vec<i64> = (0..p as i64).map(|i| 100 + (7919 * i) % 150_000).collect();
    let completions: Vec<Vec<i64>> = (0..g as i64)
        .map(|r| {
            (0..t as i64)
                .map(|j| 100 + (104_729 * (j + 31 * r)) % 150_000)
                .collect()
        })
        .collect();
    let before = status_mib("VmRSS:");
    let mut times = Vec::new();
    let mut loss_v = 0.0;
    for _ in 0..2 {
        let t0 = Instant::now();
        let (logp, mask) = model
            .completion_logprobs(&prompt, None, &completions, 0)
            .expect("log-probs");
        let loss = -(logp * mask).sum(Kind::Float) / (g * t) as f64;
        loss_v = f64::try_from(&loss).unwrap();
        model.backward(&loss);
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        for (_, v) in model.lora_var_store().expect("adapters").variables() {
            let mut gr = v.grad();
            if gr.defined() {
                let _ = gr.zero_();
            }
        }
    }
    let peak = status_mib("VmHWM:");
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!("{checkpointing} {before:.1} {peak:.1} {best:.1} {loss_v:.6}");
}

fn main() {
    if let Ok(mode) = std::env::var("RETICLE_BENCH_QWEN_MEMORY_CHILD") {
        child(mode == "on");
        return;
    }
    if std::env::var("RETICLE_BENCH_CHECKPOINT").is_err() {
        eprintln!(
            "set RETICLE_BENCH_CHECKPOINT to a Qwen checkpoint folder (scripts/bench_qwen.sh makes \
             $RETICLE_CACHE/bench-qwen/ckpt)"
        );
        std::process::exit(2);
    }
    let exe = std::env::current_exe().expect("this binary");
    let mut rows = Vec::new();
    for mode in ["off", "on"] {
        let out = Command::new(&exe)
            .env("RETICLE_BENCH_QWEN_MEMORY_CHILD", mode)
            .output()
            .expect("running a mode");
        assert!(
            out.status.success(),
            "mode {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let f: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().expect("a number"))
            .collect();
        rows.push((mode, f));
    }
    let (p, g, t) = (
        env_usize("RETICLE_BENCH_PROMPT", 1024),
        env_usize("RETICLE_BENCH_GROUP", 4),
        env_usize("RETICLE_BENCH_COMPLETION", 128),
    );
    println!(
        "Qwen LoRA r16 forward + backward, prompt {p} + {g} × {t} completion tokens ({} rows × \
         {} tokens), 2 threads, best of 2",
        g,
        p + t
    );
    println!("| gradient checkpointing | resident before | peak | peak − before | step | loss |");
    println!("|---|---|---|---|---|---|");
    for (mode, f) in &rows {
        println!(
            "| {mode} | {:.0} MiB | {:.0} MiB | **{:.0} MiB** | {:.0} ms | {:.6} |",
            f[0],
            f[1],
            f[1] - f[0],
            f[2],
            f[3]
        );
    }
    let (off, on) = (&rows[0].1, &rows[1].1);
    println!(
        "checkpointing / plain: peak above the resident set {:.2}×, step time {:.2}×; losses \
         equal: {}",
        (on[1] - on[0]) / (off[1] - off[0]),
        on[2] / off[2],
        (on[3] - off[3]).abs() < 1e-5
    );
}
