//! Evaluation: greedy decoding over a dataset, scored with the metrics of `reticle-models`.

use reticle_models::dataset::{Record, Target};
use reticle_models::geometry::{FrameMap, Mask};
use reticle_models::grammar;
pub use reticle_models::metrics::{EvalReport, EvalSample};
use reticle_models::metrics::{Metrics, MetricsSummary};
use reticle_models::rewards::RewardConfig;

use crate::data::{Encoder, Example};
use crate::error::Result;
use crate::generate::{generate, SampleConfig, StopTokens};
use crate::model::Policy;

/// The mask of a record's target, if it has one.
pub fn target_mask(record: &Record) -> Result<Option<Mask>> {
    match &record.target {
        Target::Mask(p) => Ok(Some(Mask::load(p)?)),
        _ => Ok(None),
    }
}

impl Encoder {
    pub fn stop_tokens(&self) -> StopTokens {
        StopTokens {
            eos: self.eos,
            answer_end: self.answer_end,
            pad: self.pad,
        }
    }
}

/// Scores greedy completions one record at a time into an [`EvalReport`] (every
/// architecture's evaluation goes through it).
#[derive(Debug)]
pub struct Scorer {
    metrics: Metrics,
    samples: Vec<EvalSample>,
}

impl Scorer {
    pub fn new(rewards: &RewardConfig, n: usize) -> Self {
        Self {
            metrics: Metrics::new(rewards),
            samples: Vec::with_capacity(n),
        }
    }

    /// Adds the completion `text` of `record` (`tokens` long), whose answers are in the
    /// answer frame of `frame`.
    pub fn add(
        &mut self,
        record: &Record,
        text: String,
        frame: &FrameMap,
        tokens: usize,
    ) -> Result<()> {
        let mask = target_mask(record)?;
        self.metrics
            .add(record, &grammar::parse(&text), frame, mask.as_ref(), tokens);
        self.samples.push(EvalSample {
            id: record.id.clone(),
            instruction: record.instruction.clone(),
            completion: text,
            correct: None,
            confidence: None,
            nothing: None,
            overruled: None,
        });
        Ok(())
    }

    pub fn finish(self) -> EvalReport {
        EvalReport {
            summary: self.metrics.summary(),
            samples: self.samples,
        }
    }
}

/// Greedy-decodes every example and scores the answers.
pub fn evaluate(
    model: &dyn Policy,
    encoder: &Encoder,
    records: &[Record],
    examples: &[Example],
    batch_size: usize,
    max_new_tokens: usize,
    rewards: &RewardConfig,
) -> Result<EvalReport> {
    let device = model.var_store().device();
    let mut scorer = Scorer::new(rewards, examples.len());
    let cfg = SampleConfig::greedy(max_new_tokens);
    for chunk in examples.chunks(batch_size.max(1)) {
        let pixels: Vec<&tch::Tensor> = chunk.iter().map(|e| &e.pixels).collect();
        let px = encoder.pixel_batch(&pixels, device);
        let prompts: Vec<Vec<i64>> = chunk.iter().map(|e| e.prompt_ids.clone()).collect();
        let outs = generate(model, &px, &prompts, 1, &cfg, encoder.stop_tokens(), true)?;
        for (ex, ids) in chunk.iter().zip(&outs) {
            let frame = encoder.frame(ex.original)?;
            scorer.add(&records[ex.index], encoder.decode(ids)?, &frame, ids.len())?;
        }
    }
    Ok(scorer.finish())
}

/// Flattens a summary into `eval/<task>/<metric>` values for the metrics log.
pub fn summary_values(summary: &MetricsSummary) -> std::collections::BTreeMap<String, f64> {
    let mut v = std::collections::BTreeMap::new();
    v.insert("format_rate".into(), summary.format_rate);
    v.insert("completion_len".into(), summary.mean_length);
    let mut acc_sum = 0.0;
    let mut acc_n = 0.0;
    for t in &summary.tasks {
        if let Some(a) = t.accuracy {
            v.insert(format!("accuracy/{}", t.task), a);
            acc_sum += a * t.n as f64;
            acc_n += t.n as f64;
        }
        if let Some(m) = t.mean_iou {
            v.insert(format!("mean_iou/{}", t.task), m);
        }
    }
    if acc_n > 0.0 {
        v.insert("accuracy".into(), acc_sum / acc_n);
    }
    v
}
