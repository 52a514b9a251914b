//! Logits and greedy parity with `transformers`, on inputs made by reticle's own processor,
//! chat template and tokenizer (each checked equal to the peer's first).

use std::time::Instant;

use anyhow::{ensure, Result};
use reticle_trainer::model::qwen::{QwenImages, QwenVl};
use tch::{Device, Tensor};

use crate::util::{peer, read_f32, reticle_inputs, Inputs, MAX_NEW_TOKENS};

/// The bound on f32 logits.
const LOGITS_TOLERANCE: f64 = 1e-4;
/// The vision tower's merged features, checked on their own and more tightly: a change
/// that moves the logits less than `LOGITS_TOLERANCE` can still show here.
const FEATURES_TOLERANCE: f64 = 1e-5;

fn check_family(index: usize) -> Result<()> {
    let run = peer()?;
    let peer_ck = &run.checkpoints[index];
    let theirs = &peer_ck.result;
    let Inputs {
        ckpt,
        ids,
        pixel_values,
        grid,
    } = reticle_inputs(peer_ck)?;

    let started = Instant::now();
    let model = QwenVl::load(&ckpt, Device::Cpu)?;
    let load_s = started.elapsed().as_secs_f64();
    let images = QwenImages {
        pixel_values: &pixel_values,
        grid_thw: &[grid],
    };

    let features = tch::no_grad(|| model.encode_images(images))?;
    let fshape: Vec<i64> = serde_json::from_value(theirs["features_shape"].clone())?;
    ensure!(
        features.size() == fshape,
        "features shape {:?} vs {fshape:?}",
        features.size()
    );
    let their_features =
        Tensor::from_slice(&read_f32(&peer_ck.features)?).view([fshape[0], fshape[1]]);
    let features_diff = f64::try_from((&features - &their_features).abs().max())?;

    let started = Instant::now();
    let logits = tch::no_grad(|| model.forward(&ids, Some(images)))?;
    let forward_s = started.elapsed().as_secs_f64();
    let their_logits = read_f32(&peer_ck.logits)?;
    let shape: Vec<i64> = serde_json::from_value(theirs["logits_shape"].clone())?;
    ensure!(
        logits.size() == [1, shape[0], shape[1]],
        "logits shape {:?} vs {shape:?}",
        logits.size()
    );
    let their_logits = Tensor::from_slice(&their_logits).view([1, shape[0], shape[1]]);
    let diff = f64::try_from((&logits - &their_logits).abs().max())?;
    let scale = f64::try_from(their_logits.abs().max())?;

    let started = Instant::now();
    let tokens = model.generate_greedy(&ids, Some(images), MAX_NEW_TOKENS, &[])?;
    let generate_s = started.elapsed().as_secs_f64();
    let their_tokens: Vec<i64> = serde_json::from_value(theirs["generated"].clone())?;
    let margins: Vec<f64> = serde_json::from_value(theirs["top2_margins"].clone())?;
    let min_margin = margins.iter().copied().fold(f64::INFINITY, f64::min);

    println!(
        "{} ({} tensors in {} shard(s), tied embeddings {}): {} prompt tokens, grid {grid:?}; \
         max |Δfeatures| = {features_diff:.3e}, max |Δlogits| = {diff:.3e} (logits up to {scale:.2}); greedy {tokens:?} vs transformers \
         {their_tokens:?} (smallest top-2 margin {min_margin:.3}); load {load_s:.2}s, forward \
         {forward_s:.3}s, generate {generate_s:.3}s; peer run {:.1}s",
        ckpt.config.family.model_type(),
        ckpt.tensors().len(),
        ckpt.shards.len(),
        ckpt.config.tie_word_embeddings,
        ids.len(),
        run.seconds,
    );
    ensure!(
        features_diff <= FEATURES_TOLERANCE,
        "max |Δfeatures| {features_diff:e} > {FEATURES_TOLERANCE:e}"
    );
    ensure!(
        diff <= LOGITS_TOLERANCE,
        "max |Δlogits| {diff:e} > {LOGITS_TOLERANCE:e}"
    );
    ensure!(
        tokens == their_tokens,
        "greedy tokens differ: {tokens:?} vs {their_tokens:?}"
    );
    // The KV-cache path and a full recomputation agree on the first generated token's logits.
    let mut full = ids.clone();
    full.push(tokens[0]);
    let recomputed = tch::no_grad(|| model.forward(&full, Some(images)))?;
    let mut cache = model.new_cache();
    let prefill = tch::no_grad(|| model.prefill(&ids, Some(images), Some(&mut cache)))?;
    let stepped = tch::no_grad(|| model.step(tokens[0], prefill.positions.delta, &mut cache))?;
    let cache_diff = f64::try_from((recomputed.select(1, -1) - stepped).abs().max())?;
    ensure!(
        cache_diff <= 1e-5,
        "KV-cache step differs from recomputation by {cache_diff:e}"
    );
    Ok(())
}

#[test]
fn qwen2_vl_logits_and_greedy_match_transformers() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    check_family(0)
}

#[test]
fn qwen2_5_vl_logits_and_greedy_match_transformers() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    check_family(1)
}
