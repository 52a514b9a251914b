//! LoRA on the Qwen2.5-VL checkpoint: a fresh adapter changes nothing, a few SFT steps on one
//! example lower its loss, only the adapters move, and switching them off gives the base.

use anyhow::{ensure, Result};
use reticle_models::tokenizer::TextTokenizer;
use reticle_trainer::model::qwen::lora::LoraConfig;
use reticle_trainer::model::qwen::{QwenImages, QwenVl};
use reticle_trainer::optim::{AdamW, AdamWConfig};
use tch::Device;

use crate::util::{peer, reticle_inputs, Inputs};

const STEPS: usize = 12;

/// The Qwen2.5-VL peer checkpoint's inputs and the answer the tests train on.
fn qwen25_with_answer() -> Result<(Inputs, Vec<i64>)> {
    let inputs = reticle_inputs(&peer()?.checkpoints[1])?;
    let answer = TextTokenizer::load(&inputs.ckpt.tokenizer)?
        .encode("( ok , save ) <|im_end|>")?
        .into_iter()
        .map(i64::from)
        .collect();
    Ok((inputs, answer))
}

#[test]
fn lora_sft_steps_lower_the_loss_and_only_adapters_move() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let (
        Inputs {
            ckpt,
            ids,
            pixel_values,
            grid,
        },
        answer,
    ) = qwen25_with_answer()?;
    let images = QwenImages {
        pixel_values: &pixel_values,
        grid_thw: &[grid],
    };
    let mut model = QwenVl::load(&ckpt, Device::Cpu)?;
    let base: Vec<(String, tch::Tensor)> = model
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    let before = tch::no_grad(|| model.forward(&ids, Some(images)))?;

    tch::manual_seed(0);
    let cfg = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    let n_adapted = model.add_lora(&cfg)?;
    // 2 layers × (q, k, v, o, gate, up, down); the vision tower is frozen by default.
    ensure!(n_adapted == 14, "{n_adapted} adapted layers");
    let adapters = model.lora_var_store().expect("adapters were just added");
    let names: Vec<String> = adapters.variables().into_keys().collect();
    ensure!(
        names.len() == 28 && names.iter().all(|n| n.starts_with("model.layers.")),
        "{names:?}"
    );
    ensure!(
        adapters
            .variables()
            .contains_key("model.layers.0.self_attn.q_proj.lora_A.weight"),
        "{names:?}"
    );
    ensure!(
        model
            .var_store()
            .variables()
            .values()
            .all(|t| !t.requires_grad()),
        "base weights still require gradients"
    );
    let fresh = tch::no_grad(|| model.forward(&ids, Some(images)))?;
    ensure!(fresh.equal(&before), "a fresh adapter changed the logits");

    let eval_loss = |model: &QwenVl| -> Result<f64> {
        model.set_training(false);
        let loss = tch::no_grad(|| model.completion_nll(&ids, Some(images), &answer))?;
        Ok(f64::try_from(loss)?)
    };
    let initial = eval_loss(&model)?;
    let params = adapters.variables().into_iter().collect();
    let mut opt = AdamW::new(
        params,
        AdamWConfig {
            lr: 1e-2,
            warmup_steps: 0,
            total_steps: STEPS as u64,
            ..AdamWConfig::default()
        },
    )?;
    let mut losses = Vec::new();
    for _ in 0..STEPS {
        model.set_training(true);
        opt.zero_grad();
        let loss = model.completion_nll(&ids, Some(images), &answer)?;
        losses.push(f64::try_from(&loss)?);
        loss.backward();
        opt.step()?;
    }
    let last = eval_loss(&model)?;
    println!(
        "LoRA r=4 on {n_adapted} layers, {STEPS} AdamW steps on one example: completion NLL \
         {initial:.3} → {last:.3} (training losses {losses:.3?})"
    );
    ensure!(last < 0.5 * initial, "loss {initial} → {last}");
    // Adapters switched off compute the base model exactly (GRPO's reference for the KL).
    model.set_adapters_enabled(false);
    let base_logits = tch::no_grad(|| model.forward(&ids, Some(images)))?;
    ensure!(
        base_logits.equal(&before),
        "the model with its adapters off is not the base"
    );
    model.set_adapters_enabled(true);
    let trained = tch::no_grad(|| model.forward(&ids, Some(images)))?;
    ensure!(!trained.equal(&before), "the adapters are not back on");
    for (name, value) in &base {
        ensure!(
            model.var_store().variables()[name].equal(value),
            "base weight {name} changed"
        );
    }
    Ok(())
}

/// Both families with their base weights in bf16 (`[model] dtype = "bf16"`): the logits stay
/// within bf16 rounding of f32, and LoRA SFT steps (adapters f32) still lower the loss.
#[test]
fn bf16_base_weights_track_f32_and_train() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let run = peer()?;
    for ck in &run.checkpoints {
        let Inputs {
            ckpt,
            ids,
            pixel_values,
            grid,
        } = reticle_inputs(ck)?;
        let images = QwenImages {
            pixel_values: &pixel_values,
            grid_thw: &[grid],
        };
        let f32_logits =
            tch::no_grad(|| QwenVl::load(&ckpt, Device::Cpu)?.forward(&ids, Some(images)))?;
        let mut model = QwenVl::load_as(&ckpt, Device::Cpu, tch::Kind::BFloat16)?;
        ensure!(
            model
                .var_store()
                .variables()
                .values()
                .all(|t| t.kind() == tch::Kind::BFloat16),
            "weights not bf16"
        );
        let logits = tch::no_grad(|| model.forward(&ids, Some(images)))?;
        let diff = f64::try_from((logits.to_kind(tch::Kind::Float) - &f32_logits).abs().max())?;
        let scale = f64::try_from(f32_logits.abs().max())?;
        println!(
            "{}: bf16 weights, logits max abs diff {diff:.4} (f32 logits up to {scale:.3})",
            ckpt.config.family.model_type()
        );
        ensure!(diff < 0.05 * scale.max(1.0), "bf16 logits differ by {diff}");

        tch::manual_seed(0);
        model.add_lora(&LoraConfig {
            rank: 4,
            alpha: 8.0,
            ..LoraConfig::default()
        })?;
        let adapters = model.lora_var_store().expect("adapters were just added");
        let answer: Vec<i64> = TextTokenizer::load(&ckpt.tokenizer)?
            .encode("( ok , save ) <|im_end|>")?
            .into_iter()
            .map(i64::from)
            .collect();
        let mut opt = AdamW::new(
            adapters.variables().into_iter().collect(),
            AdamWConfig {
                lr: 1e-2,
                warmup_steps: 0,
                total_steps: STEPS as u64,
                ..AdamWConfig::default()
            },
        )?;
        let mut losses = Vec::new();
        for _ in 0..STEPS {
            opt.zero_grad();
            let loss = model.completion_nll(&ids, Some(images), &answer)?;
            losses.push(f64::try_from(&loss)?);
            loss.backward();
            opt.step()?;
        }
        println!("  bf16 LoRA SFT losses {losses:.3?}");
        ensure!(
            losses.iter().all(|l| l.is_finite()) && losses[STEPS - 1] < 0.5 * losses[0],
            "bf16 LoRA SFT: {losses:?}"
        );
    }
    Ok(())
}

/// `[model] gradient_checkpointing`: the decoder keeps only its layers' inputs, the head's
/// log-probabilities are computed in chunks of rows, and the backward pass recomputes both.
/// Without dropout the gradients equal the plain backward pass's; with dropout the
/// recomputation draws the same masks as the forward, which a finite difference through two
/// forward passes (same seed, so the same masks) confirms.
#[test]
fn gradient_checkpointing_gives_the_plain_gradients() -> Result<()> {
    let _rng = crate::util::torch_rng_alone();
    let (
        Inputs {
            ckpt,
            ids,
            pixel_values,
            grid,
        },
        answer,
    ) = qwen25_with_answer()?;
    let images = QwenImages {
        pixel_values: &pixel_values,
        grid_thw: &[grid],
    };
    let mut model = QwenVl::load(&ckpt, Device::Cpu)?;
    tch::manual_seed(0);
    model.add_lora(&LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.5,
        ..LoraConfig::default()
    })?;
    // B starts at zero; move it so that every adapter has a gradient through A too.
    let adapters: Vec<(String, tch::Tensor)> = {
        let mut v: Vec<_> = model
            .lora_var_store()
            .expect("adapters were just added")
            .variables()
            .into_iter()
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    tch::no_grad(|| {
        for (_, t) in &adapters {
            let _ = t.shallow_clone().g_add_(&(t.randn_like() * 0.05));
        }
    });
    // GRPO's and SFT's path: the completion log-probabilities of two rows (the answer and the
    // answer reversed) after the prompt.
    let rows = [
        answer.clone(),
        answer.iter().rev().copied().collect::<Vec<_>>(),
    ];
    let nll = |model: &QwenVl| -> Result<tch::Tensor> {
        let (logp, mask) = model.completion_logprobs(&ids, Some(images), &rows, 0)?;
        Ok(-logp.sum(tch::Kind::Float) / mask.sum(tch::Kind::Float))
    };
    let grads = |model: &QwenVl, seed: i64| -> Result<(f64, Vec<tch::Tensor>)> {
        for (_, t) in &adapters {
            let mut g = t.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
        tch::manual_seed(seed);
        let loss = nll(model)?;
        model.backward(&loss);
        ensure!(model.pending_backward() == 0, "the tape was not replayed");
        Ok((
            f64::try_from(&loss)?,
            adapters.iter().map(|(_, t)| t.grad().copy()).collect(),
        ))
    };
    let max_diff = |a: &[tch::Tensor], b: &[tch::Tensor]| -> Result<f64> {
        let mut m: f64 = 0.0;
        for (x, y) in a.iter().zip(b) {
            m = m.max(f64::try_from((x - y).abs().max())?);
        }
        Ok(m)
    };

    // Dropout off: the same loss and the same gradients, with and without checkpointing.
    model.set_training(false);
    let (plain_loss, plain) = grads(&model, 1)?;
    model.set_gradient_checkpointing(true);
    // Chunks of 3 rows: the head's log-probabilities in several chunks, recomputed in the
    // backward pass.
    model.set_logprob_chunk_rows(3);
    let (ck_loss, ck) = grads(&model, 1)?;
    ensure!(model.pending_backward() == 0);
    let diff = max_diff(&plain, &ck)?;
    let scale = max_diff(
        &plain,
        &plain.iter().map(|g| g.zeros_like()).collect::<Vec<_>>(),
    )?;
    println!(
        "gradient checkpointing, dropout off: loss {plain_loss:.6} vs {ck_loss:.6}, max |Δgrad| \
         {diff:.2e} (max |grad| {scale:.2e})"
    );
    ensure!(
        (plain_loss - ck_loss).abs() < 1e-5,
        "{plain_loss} vs {ck_loss}"
    );
    ensure!(diff <= 1e-5 * scale.max(1.0), "gradients differ by {diff}");

    // Dropout 0.5 on: the checkpointed gradient's slope along a direction d matches the
    // finite difference of the loss, each forward from the same seed (the same masks).
    model.set_training(true);
    let (_, g) = grads(&model, 7)?;
    let d: Vec<tch::Tensor> = g.iter().map(|t| t.randn_like()).collect();
    let slope: f64 = g
        .iter()
        .zip(&d)
        .map(|(g, d)| f64::try_from((g * d).sum(tch::Kind::Float)))
        .sum::<std::result::Result<f64, _>>()?;
    let loss_at = |eps: f64| -> Result<f64> {
        tch::no_grad(|| {
            for ((_, t), d) in adapters.iter().zip(&d) {
                let _ = t.shallow_clone().g_add_(&(d * eps));
            }
        });
        // With gradients on, so that the forward is the checkpointed one (each layer reseeded
        // as in `grads`); its tape is dropped by the next backward pass.
        tch::manual_seed(7);
        let l = nll(&model)?;
        tch::no_grad(|| {
            for ((_, t), d) in adapters.iter().zip(&d) {
                let _ = t.shallow_clone().g_sub_(&(d * eps));
            }
        });
        Ok(f64::try_from(l)?)
    };
    let eps = 1e-3;
    let numeric = (loss_at(eps)? - loss_at(-eps)?) / (2.0 * eps);
    println!(
        "gradient checkpointing, dropout 0.5: slope {slope:.5}, finite difference {numeric:.5}"
    );
    ensure!(
        (slope - numeric).abs() <= 0.02 * slope.abs().max(1e-3),
        "slope {slope} vs finite difference {numeric}"
    );
    Ok(())
}
