//! Supervised fine-tuning (Reason-RFT stage 1): cross-entropy on completion tokens only (the
//! image and the prompt are context), with or without reference reasoning (`prep.mode`).

use std::collections::BTreeMap;

use tch::Tensor;

use crate::error::Result;
use crate::generate::completion_logprobs;
use crate::metrics_log::Progress;
use crate::model::Policy;
use crate::session::{batch_indices, Session};
use crate::trainee::Trainee;

/// The mean negative log-likelihood of the reference completions of `batch`.
pub fn sft_loss(s: &Session, batch: &[usize]) -> Result<Tensor> {
    let pixels: Vec<&Tensor> = batch.iter().map(|&i| &s.examples[i].pixels).collect();
    let px = s.encoder.pixel_batch(&pixels, s.device);
    let feats = s.model.encode_images(&px);
    let prompts: Vec<Vec<i64>> = batch
        .iter()
        .map(|&i| s.examples[i].prompt_ids.clone())
        .collect();
    let targets: Vec<Vec<i64>> = batch
        .iter()
        .map(|&i| s.examples[i].target_ids.clone())
        .collect();
    let (logp, mask) = completion_logprobs(
        &s.model,
        &feats,
        &prompts,
        &targets,
        s.encoder.stop_tokens(),
    )?;
    Ok(-logp.sum(tch::Kind::Float) / mask.sum(tch::Kind::Float).clamp_min(1.0))
}

/// Runs (or continues) SFT to `cfg.sft.steps` and returns the final training loss.
pub fn run_sft<T: Trainee>(s: &mut T) -> Result<f64> {
    let total = s.cfg().sft.steps;
    let start = s.start_step();
    let mut progress = Progress::new(total, start);
    let mut last_loss = f64::NAN;
    let eval_set = s.eval_set()?;
    for step in start..total {
        let cfg = s.cfg();
        let batch = batch_indices(s.records().len(), cfg.sft.batch_size, cfg.run.seed, step);
        let loss = tch::autocast(s.autocast(), || s.sft_loss(&batch))?;
        let loss_v = f64::try_from(&loss)?;
        let mut values = BTreeMap::new();
        if loss_v.is_finite() {
            s.optim_mut().zero_grad();
            s.backward(&loss);
            let stats = s.optim_mut().step()?;
            values.insert("grad_norm".into(), stats.grad_norm);
            values.insert("lr".into(), stats.lr);
            values.insert("skipped".into(), f64::from(u8::from(stats.skipped)));
            last_loss = loss_v;
        } else {
            tracing::warn!(step, "non-finite SFT loss; step skipped");
            values.insert("skipped".into(), 1.0);
        }
        values.insert("loss".into(), loss_v);
        s.log_mut().log(step + 1, "sft", &values)?;
        progress.update(step + 1, &[("loss", loss_v)]);
        s.end_of_step("sft", step + 1, total, eval_set.as_ref())?;
    }
    if total == 0 {
        // A zero-step run is the untrained ("training-free") baseline: save it so it can be
        // evaluated and exported like any other run.
        s.checkpoint(0, serde_json::json!({"phase": "sft", "step": 0}))?;
    }
    progress.finish(&format!("sft done: loss {last_loss:.4}"));
    Ok(last_loss)
}
