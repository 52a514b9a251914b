//! Trainer throughput: rollout tokens/s with and without the KV cache, a GRPO step split into
//! rollout / reward / update, and peak memory.
//!
//! ```sh
//! source scripts/env.sh
//! cargo bench -p reticle-trainer --bench throughput                 # small model, auto device
//! RETICLE_BENCH_SIZE=micro RETICLE_BENCH_DEVICE=cpu cargo bench -p reticle-trainer --bench throughput
//! ```
//!
//! On CUDA it also prints achieved FLOP/s of the cached rollout (2 × parameters × tokens,
//! attention excluded) against the peak given in `RETICLE_BENCH_PEAK_TFLOPS`.

// A benchmark binary: failing loudly is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use reticle_suites::{self as suites, SuiteConfig, SuiteKind};
use reticle_trainer::device::DeviceRequest;
use reticle_trainer::generate::{generate, SampleConfig, StopTokens};
use reticle_trainer::grpo::trainer::grpo_step;
use reticle_trainer::model::{Policy, ReticleVlm, VlmConfig};
use reticle_trainer::session::{Session, StartOptions};
use tch::{Kind, Tensor};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn sync(device: tch::Device) {
    if let tch::Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn main() {
    let size = std::env::var("RETICLE_BENCH_SIZE").unwrap_or_else(|_| "small".into());
    let device: DeviceRequest = std::env::var("RETICLE_BENCH_DEVICE")
        .unwrap_or_else(|_| "auto".into())
        .parse()
        .unwrap();
    let device = device.resolve().unwrap();
    let mut cfg = VlmConfig::preset(&size).unwrap();
    cfg.vocab_size = 512;
    tch::manual_seed(0);
    let model = ReticleVlm::new(&cfg, device).unwrap();
    let n_params: i64 = model
        .var_store()
        .variables()
        .values()
        .map(|t| t.numel() as i64)
        .sum();
    println!(
        "model {size}: {:.2} M parameters, {} image tokens, device {device:?}",
        n_params as f64 / 1e6,
        cfg.num_image_tokens()
    );

    // Rollouts: 4 prompts × 4 samples, 32 new tokens each, no early stop.
    let (b, g, new_tokens) = (4usize, 4usize, 32usize);
    let px = Tensor::randn(
        [
            b as i64,
            cfg.channels as i64,
            i64::from(cfg.image_height),
            i64::from(cfg.image_width),
        ],
        (Kind::Float, device),
    );
    let prompts: Vec<Vec<i64>> = (0..b).map(|i| (1..12 + i as i64).collect()).collect();
    let never = StopTokens {
        eos: -1,
        answer_end: -1,
        pad: 0,
    };
    let sample = SampleConfig {
        temperature: 1.0,
        top_p: 1.0,
        max_new_tokens: new_tokens,
    };
    let mut rates = Vec::new();
    for use_cache in [true, false] {
        generate(
            &model,
            &px,
            &prompts,
            g,
            &SampleConfig {
                max_new_tokens: 2,
                ..sample.clone()
            },
            never,
            use_cache,
        )
        .unwrap();
        sync(device);
        let t = Instant::now();
        let outs = generate(&model, &px, &prompts, g, &sample, never, use_cache).unwrap();
        sync(device);
        let secs = t.elapsed().as_secs_f64();
        let tokens: usize = outs.iter().map(Vec::len).sum();
        let rate = tokens as f64 / secs;
        println!(
            "rollout {:<9} {tokens} tokens in {secs:.3}s = {rate:.1} tokens/s",
            if use_cache { "kv-cache" } else { "no-cache" }
        );
        rates.push((rate, secs, tokens));
    }
    println!("kv-cache speed-up: {:.2}x", rates[0].0 / rates[1].0);
    if device.is_cuda() {
        let flops = 2.0 * n_params as f64 * rates[0].2 as f64 / rates[0].1;
        let peak: f64 = std::env::var("RETICLE_BENCH_PEAK_TFLOPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(989.0);
        println!(
            "cached rollout: {:.3} TFLOP/s achieved, {:.4}% of {peak} TFLOP/s peak",
            flops / 1e12,
            100.0 * flops / 1e12 / peak
        );
    }

    // A real GRPO step on ui screens.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ui");
    suites::generate(&SuiteConfig::new(SuiteKind::Ui, 32, 1), &data, &|_| {}).unwrap();
    let toml = format!(
        "[model]\nsize = \"{size}\"\n[data]\ntrain = [\"{}\"]\nvocab_size = 512\n[grpo]\nsteps = 3\nbatch_prompts = 4\ngroup_size = 8\ndynamic_sampling = false\n[grpo.sample]\nmax_new_tokens = 24\n",
        data.display()
    );
    let mut s = Session::start(&StartOptions {
        out: dir.path().join("run"),
        config_toml: Some(toml),
        resume: false,
        init: None,
        device,
    })
    .unwrap();
    let mut masks = std::collections::HashMap::new();
    for step in 0..3 {
        let t = Instant::now();
        let v = grpo_step(&mut s, None, step, &mut masks).unwrap();
        sync(device);
        let total = t.elapsed().as_secs_f64();
        println!(
            "grpo step {step}: {total:.3}s = rollout {:.3}s ({:.0} tokens/s) + reward {:.4}s + update {:.3}s (B=4, G=8)",
            v.rollout_s,
            v.rollout_tokens_per_s,
            v.reward_s,
            v.update.as_ref().map_or(f64::NAN, |u| u.update_s)
        );
    }
    println!("peak resident memory: {:.0} MiB", peak_rss_mib());
    if device.is_cuda() {
        println!("(GPU memory is not included in the resident figure)");
    }
}
