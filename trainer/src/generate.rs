//! Batched sampling with the KV cache, and log-probabilities of completions.
//!
//! Both build the same sequence: `[image tokens][left-padded prompt][completion]`, with
//! padding masked out of attention and position ids that skip it (`cumsum(mask) − 1`), so a
//! row's result does not depend on what it was batched with.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::{KvCache, Policy};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleConfig {
    /// Softmax temperature; 0 means greedy.
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f64,
    pub max_new_tokens: usize,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            max_new_tokens: 48,
        }
    }
}

impl SampleConfig {
    /// Greedy decoding with `max_new_tokens`.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Config(format!(
                "temperature {} must be >= 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Config(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        if self.max_new_tokens == 0 {
            return Err(Error::Config("max_new_tokens must be positive".into()));
        }
        Ok(())
    }
}

/// Token ids that end a completion.
#[derive(Debug, Clone, Copy)]
pub struct StopTokens {
    pub eos: i64,
    /// `</answer>`: nothing useful can follow it.
    pub answer_end: i64,
    pub pad: i64,
}

/// Prompts left-padded into one batch, with their attention mask.
struct PromptBatch {
    /// `[B, L]` int64.
    ids: Tensor,
    /// `[B, L]` int64, 0 for padding.
    mask: Tensor,
}

fn pad_prompts(prompts: &[Vec<i64>], pad: i64, device: Device) -> PromptBatch {
    let len = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(prompts.len() * len);
    let mut mask = Vec::with_capacity(prompts.len() * len);
    for p in prompts {
        let n_pad = len - p.len();
        ids.extend(std::iter::repeat_n(pad, n_pad).chain(p.iter().copied()));
        mask.extend(std::iter::repeat_n(0i64, n_pad).chain(std::iter::repeat_n(1, p.len())));
    }
    let shape = [prompts.len() as i64, len as i64];
    PromptBatch {
        ids: Tensor::from_slice(&ids).view(shape).to_device(device),
        mask: Tensor::from_slice(&mask).view(shape).to_device(device),
    }
}

/// Right-pads completions into `[B, T]` ids and a 0/1 mask.
pub fn pad_completions(completions: &[Vec<i64>], pad: i64, device: Device) -> (Tensor, Tensor) {
    let len = completions.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut ids = Vec::with_capacity(completions.len() * len);
    let mut mask = Vec::with_capacity(completions.len() * len);
    for c in completions {
        ids.extend(
            c.iter()
                .copied()
                .chain(std::iter::repeat_n(pad, len - c.len())),
        );
        mask.extend(
            std::iter::repeat_n(1f32, c.len()).chain(std::iter::repeat_n(0.0, len - c.len())),
        );
    }
    let shape = [completions.len() as i64, len as i64];
    (
        Tensor::from_slice(&ids).view(shape).to_device(device),
        Tensor::from_slice(&mask).view(shape).to_device(device),
    )
}

fn position_ids(mask: &Tensor) -> Tensor {
    (mask.cumsum(1, Kind::Int64) - 1).clamp_min(0)
}

/// Per-token log-probabilities of `completions` given images and prompts:
/// returns `(logp [B, T], mask [B, T])`, differentiable through the policy.
///
/// `image_features` is `[B, N, hidden]` (one row per completion; repeat images for groups).
pub fn completion_logprobs(
    policy: &dyn Policy,
    image_features: &Tensor,
    prompts: &[Vec<i64>],
    completions: &[Vec<i64>],
    stop: StopTokens,
) -> Result<(Tensor, Tensor)> {
    let b = prompts.len();
    if completions.len() != b || image_features.size().first().copied() != Some(b as i64) {
        return Err(Error::Config(format!(
            "batch mismatch: {} prompts, {} completions, {:?} image rows",
            b,
            completions.len(),
            image_features.size().first()
        )));
    }
    let device = image_features.device();
    let n_img = image_features.size()[1];
    let p = pad_prompts(prompts, stop.pad, device);
    let (c_ids, c_mask) = pad_completions(completions, stop.pad, device);
    let text_ids = Tensor::cat(&[&p.ids, &c_ids], 1);
    let embeds = Tensor::cat(&[image_features, &policy.embed_tokens(&text_ids)], 1);
    let img_mask = Tensor::ones([b as i64, n_img], (Kind::Int64, device));
    let mask = Tensor::cat(&[&img_mask, &p.mask, &c_mask.to_kind(Kind::Int64)], 1);
    let logits = policy.decode(&embeds, &mask, &position_ids(&mask), None);
    // The token at sequence position s is predicted by the logits at s − 1.
    let t_c = c_ids.size()[1];
    let start = n_img + p.ids.size()[1] - 1;
    let pred = logits.narrow(1, start, t_c).log_softmax(-1, Kind::Float);
    let logp = pred.gather(2, &c_ids.unsqueeze(-1), false).squeeze_dim(-1);
    Ok((logp * &c_mask, c_mask))
}

/// Samples one token per row from `logits [B, V]`.
pub(crate) fn sample_next(logits: &Tensor, cfg: &SampleConfig) -> Tensor {
    if cfg.temperature == 0.0 {
        return logits.argmax(-1, false);
    }
    let probs = (logits / cfg.temperature).softmax(-1, Kind::Float);
    let probs = if cfg.top_p < 1.0 {
        let (sorted, idx) = probs.sort(-1, true);
        let cum = sorted.cumsum(-1, Kind::Float);
        // Drop a token when the mass before it already reaches top_p (the top token always stays).
        let drop = (&cum - &sorted).ge(cfg.top_p);
        let kept = sorted.masked_fill(&drop, 0.0);
        Tensor::zeros_like(&probs).scatter(-1, &idx, &kept)
    } else {
        probs
    };
    probs.multinomial(1, true).squeeze_dim(-1)
}

/// Generates `repeat` completions per prompt (rows grouped: prompt 0's `repeat` rows first).
/// Completions end at `</answer>` or `<eos>` (included) or after `max_new_tokens`.
/// With `use_cache = false` every step recomputes the whole sequence (for benchmarks).
pub fn generate(
    policy: &dyn Policy,
    pixel_values: &Tensor,
    prompts: &[Vec<i64>],
    repeat: usize,
    cfg: &SampleConfig,
    stop: StopTokens,
    use_cache: bool,
) -> Result<Vec<Vec<i64>>> {
    cfg.validate()?;
    if repeat == 0 || prompts.is_empty() {
        return Err(Error::Config(
            "generate needs at least one prompt and repeat >= 1".into(),
        ));
    }
    tch::no_grad(|| {
        let device = pixel_values.device();
        let b = prompts.len() as i64;
        let img = policy.encode_images(pixel_values);
        let n_img = img.size()[1];
        let p = pad_prompts(prompts, stop.pad, device);
        let embeds = Tensor::cat(&[&img, &policy.embed_tokens(&p.ids)], 1);
        let mask = Tensor::cat(
            &[&Tensor::ones([b, n_img], (Kind::Int64, device)), &p.mask],
            1,
        );
        let pos = position_ids(&mask);
        let mut cache = policy.new_cache();
        let logits = policy.decode(&embeds, &mask, &pos, use_cache.then_some(&mut cache));
        // Expand every prompt to `repeat` rows: the prefill is shared.
        let rows = Tensor::arange(b, (Kind::Int64, device)).repeat_interleave_self_int(
            repeat as i64,
            0,
            None,
        );
        let mut last = logits.select(1, -1).index_select(0, &rows);
        let mut mask = mask.index_select(0, &rows);
        let first_pos = pos.select(1, -1).index_select(0, &rows) + 1;
        let mut embeds = embeds.index_select(0, &rows);
        let mut cache: KvCache = if use_cache {
            cache.index_select(&rows)
        } else {
            cache
        };
        let n = (b as usize) * repeat;
        let mut out: Vec<Vec<i64>> = vec![Vec::new(); n];
        let mut done = vec![false; n];
        for step in 0..cfg.max_new_tokens as i64 {
            let next = sample_next(&last, cfg);
            let tokens: Vec<i64> = Vec::<i64>::try_from(&next)?;
            for (i, &t) in tokens.iter().enumerate() {
                if !done[i] {
                    out[i].push(t);
                    done[i] = t == stop.eos || t == stop.answer_end;
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
            let step_embeds = policy.embed_tokens(&next.unsqueeze(1));
            mask = Tensor::cat(
                &[&mask, &Tensor::ones([n as i64, 1], (Kind::Int64, device))],
                1,
            );
            let logits = if use_cache {
                policy.decode(
                    &step_embeds,
                    &mask,
                    &(&first_pos + step).unsqueeze(1),
                    Some(&mut cache),
                )
            } else {
                embeds = Tensor::cat(&[&embeds, &step_embeds], 1);
                policy.decode(&embeds, &mask, &position_ids(&mask), None)
            };
            last = logits.select(1, -1);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ReticleVlm, VlmConfig};

    fn stop() -> StopTokens {
        StopTokens {
            eos: 2,
            answer_end: 7,
            pad: 0,
        }
    }

    #[test]
    fn cached_and_uncached_greedy_decoding_agree() {
        tch::manual_seed(1);
        let m = ReticleVlm::new(&VlmConfig::micro(), Device::Cpu).unwrap();
        let px = Tensor::randn([2, 3, 40, 64], (Kind::Float, Device::Cpu));
        let prompts = vec![vec![1, 20, 21, 22], vec![1, 30]];
        let cfg = SampleConfig::greedy(12);
        let a = generate(&m, &px, &prompts, 2, &cfg, stop(), true).unwrap();
        let b = generate(&m, &px, &prompts, 2, &cfg, stop(), false).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
        // Greedy: the repeated rows of a prompt are identical.
        assert_eq!(a[0], a[1]);
    }

    #[test]
    fn logprobs_of_greedy_tokens_are_the_row_maxima() {
        tch::manual_seed(2);
        let m = ReticleVlm::new(&VlmConfig::micro(), Device::Cpu).unwrap();
        let px = Tensor::randn([2, 3, 40, 64], (Kind::Float, Device::Cpu));
        let prompts = vec![vec![1, 20, 21, 22], vec![1, 30]];
        let comps = generate(&m, &px, &prompts, 1, &SampleConfig::greedy(6), stop(), true).unwrap();
        let feats = tch::no_grad(|| m.encode_images(&px));
        let (logp, mask) =
            tch::no_grad(|| completion_logprobs(&m, &feats, &prompts, &comps, stop())).unwrap();
        assert_eq!(logp.size(), mask.size());
        // Each greedy token's log-probability is finite and at most 0.
        let max = f64::try_from(logp.max()).unwrap();
        assert!(max <= 1e-6 && max.is_finite());
        // Batching does not change a row: row 1 alone gives the same log-probabilities.
        let (alone, _) = tch::no_grad(|| {
            completion_logprobs(
                &m,
                &feats.narrow(0, 1, 1),
                &prompts[1..],
                &comps[1..],
                stop(),
            )
        })
        .unwrap();
        let t = alone.size()[1];
        let diff = f64::try_from((logp.get(1).narrow(0, 0, t) - alone.get(0)).abs().max()).unwrap();
        assert!(diff < 1e-4, "batched vs alone differ by {diff}");
    }

    #[test]
    fn top_p_keeps_only_the_nucleus() {
        tch::manual_seed(3);
        // Probabilities 0.7, 0.2, 0.1: top_p 0.6 keeps only the first token.
        let logits = Tensor::from_slice(&[0.7f32, 0.2, 0.1])
            .log()
            .view([1, 3])
            .repeat([64, 1]);
        let cfg = SampleConfig {
            temperature: 1.0,
            top_p: 0.6,
            max_new_tokens: 1,
        };
        let s: Vec<i64> = Vec::try_from(&sample_next(&logits, &cfg)).unwrap();
        assert!(s.iter().all(|&t| t == 0), "{s:?}");
        let cfg = SampleConfig { top_p: 0.85, ..cfg };
        let s: Vec<i64> = Vec::try_from(&sample_next(&logits, &cfg)).unwrap();
        assert!(s.iter().all(|&t| t == 0 || t == 1), "{s:?}");
    }
}
