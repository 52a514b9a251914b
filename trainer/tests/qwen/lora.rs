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

#[test]
fn lora_sft_steps_lower_the_loss_and_only_adapters_move() -> Result<()> {
    let run = peer()?;
    let Inputs {
        ckpt,
        ids,
        pixel_values,
        grid,
    } = reticle_inputs(&run.checkpoints[1])?;
    let images = QwenImages {
        pixel_values: &pixel_values,
        grid_thw: &[grid],
    };
    let answer: Vec<i64> = TextTokenizer::load(&ckpt.tokenizer)?
        .encode("( ok , save ) <|im_end|>")?
        .into_iter()
        .map(i64::from)
        .collect();
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
