//! Supervised fine-tuning (Reason-RFT stage 1): cross-entropy on completion tokens only (the
//! image and the prompt are context), with or without reference reasoning (`prep.mode`).

use std::collections::BTreeMap;

use tch::Tensor;

use crate::error::Result;
use crate::eval::{evaluate, summary_values};
use crate::generate::completion_logprobs;
use crate::metrics_log::Progress;
use crate::model::Policy;
use crate::session::{batch_indices, encode_all, read_records, Session};

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
pub fn run_sft(s: &mut Session) -> Result<f64> {
    let total = s.cfg.sft.steps;
    let mut progress = Progress::new(total, s.start_step);
    let mut last_loss = f64::NAN;
    let eval_set = eval_set(s)?;
    for step in s.start_step..total {
        let batch = batch_indices(s.examples.len(), s.cfg.sft.batch_size, s.cfg.run.seed, step);
        let loss = tch::autocast(s.autocast(), || sft_loss(s, &batch))?;
        let loss_v = f64::try_from(&loss)?;
        let mut values = BTreeMap::new();
        if loss_v.is_finite() {
            s.optim.zero_grad();
            loss.backward();
            let stats = s.optim.step()?;
            values.insert("grad_norm".into(), stats.grad_norm);
            values.insert("lr".into(), stats.lr);
            values.insert("skipped".into(), f64::from(u8::from(stats.skipped)));
            last_loss = loss_v;
        } else {
            tracing::warn!(step, "non-finite SFT loss; step skipped");
            values.insert("skipped".into(), 1.0);
        }
        values.insert("loss".into(), loss_v);
        s.log.log(step + 1, "sft", &values)?;
        progress.update(step + 1, &[("loss", loss_v)]);
        let done = step + 1;
        if done % s.cfg.run.checkpoint_every.max(1) == 0 || done == total {
            s.checkpoint(done, serde_json::json!({"phase": "sft", "step": done}))?;
        }
        if let Some((records, examples)) = &eval_set {
            if (s.cfg.run.eval_every > 0 && done % s.cfg.run.eval_every == 0) || done == total {
                let report = evaluate(
                    &s.model,
                    &s.encoder,
                    records,
                    examples,
                    16,
                    s.cfg.grpo.sample.max_new_tokens,
                    &s.cfg.grpo.rewards,
                )?;
                s.log.log(done, "eval", &summary_values(&report.summary))?;
                tracing::info!(step = done, "eval\n{}", report.summary);
            }
        }
    }
    if total == 0 {
        // A zero-step run is the untrained ("training-free") baseline: save it so it can be
        // evaluated and exported like any other run.
        s.checkpoint(0, serde_json::json!({"phase": "sft", "step": 0}))?;
    }
    progress.finish(&format!("sft done: loss {last_loss:.4}"));
    Ok(last_loss)
}

/// The evaluation records and examples of a session's config, if any.
pub fn eval_set(
    s: &Session,
) -> Result<
    Option<(
        Vec<reticle_models::dataset::Record>,
        Vec<crate::data::Example>,
    )>,
> {
    if s.cfg.data.eval.is_empty() {
        return Ok(None);
    }
    let records = read_records(&s.cfg.data.eval, s.cfg.data.max_eval)?;
    let examples = encode_all(&s.encoder, &records)?;
    Ok(Some((records, examples)))
}
