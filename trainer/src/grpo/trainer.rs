//! The GRPO loop (Reason-RFT stage 2, Visual-RFT): sample G completions per prompt, score
//! them with the verifiable rewards, and push the policy towards the better ones relative to
//! their group, with a clipped ratio objective and a KL penalty to a reference (ReticleVLM: a
//! frozen copy of the starting weights; Qwen with LoRA: the base, adapters switched off).
//! Written once against [`Trainee`], for every family.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use reticle_models::geometry::Mask;
use reticle_models::rewards::{self, RewardBreakdown};
use tch::Tensor;

use super::loss::{advantages, grpo_loss, zero_variance_groups, LossInputs};
use crate::checkpoint::{load_into_varstore, varstore_named};
use crate::error::{Error, Result};
use crate::eval::target_mask;
use crate::metrics_log::Progress;
use crate::model::{Policy, ReticleVlm};
use crate::session::{batch_indices, Session};
use crate::trainee::{GroupRows, Trainee};

/// The frozen reference's weights inside a GRPO run directory.
pub const REFERENCE_FILE: &str = "reference.safetensors";

/// Where a step's time went.
#[derive(Debug, Default)]
struct Timings {
    rollout: f64,
    reward: f64,
    rollout_tokens: usize,
}

/// One prompt with its scored completions.
#[derive(Debug)]
struct Group {
    example: usize,
    completions: Vec<Vec<i64>>,
    rewards: Vec<RewardBreakdown>,
}

/// The frozen reference policy: the weights GRPO started from, saved in the run so that a
/// resumed run uses the same one.
pub fn reference_model(s: &Session) -> Result<ReticleVlm> {
    let path = s.run.root().join(REFERENCE_FILE);
    let mut reference = ReticleVlm::new(s.model.config(), s.device)?;
    if path.is_file() {
        let named = Tensor::read_safetensors(&path)?;
        load_into_varstore(reference.var_store_mut(), &named)?;
    } else {
        let named = varstore_named(s.model.var_store());
        load_into_varstore(reference.var_store_mut(), &named)?;
        let tmp = path.with_extension("safetensors.tmp");
        let cpu: Vec<(String, Tensor)> = named
            .iter()
            .map(|(n, t)| (n.clone(), t.detach().to_device(tch::Device::Cpu)))
            .collect();
        Tensor::write_safetensors(&cpu, &tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    }
    reference.var_store_mut().freeze();
    Ok(reference)
}

fn mask_for<'a, T: Trainee>(
    s: &T,
    cache: &'a mut HashMap<usize, Option<Mask>>,
    idx: usize,
) -> Result<Option<&'a Mask>> {
    if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(idx) {
        e.insert(target_mask(&s.records()[idx])?);
    }
    Ok(cache.get(&idx).and_then(Option::as_ref))
}

/// Samples and scores groups for `step`, refilling groups with no reward variance when
/// dynamic sampling is on. Returns the kept groups and how many were dropped.
fn collect_groups<T: Trainee>(
    s: &T,
    step: u64,
    masks: &mut HashMap<usize, Option<Mask>>,
) -> Result<(Vec<Group>, usize, usize, Timings)> {
    let cfg = s.cfg();
    let g = &cfg.grpo;
    let n_examples = s.records().len();
    let mut timings = Timings::default();
    let mut kept = Vec::new();
    let mut dropped = 0;
    let mut rounds = 0;
    for round in 0..=g.max_refill_rounds {
        rounds = round + 1;
        let seed = cfg.run.seed ^ (round as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let idxs = if round == 0 {
            batch_indices(n_examples, g.batch_prompts, cfg.run.seed, step)
        } else {
            batch_indices(n_examples, g.batch_prompts, seed, step)
        };
        let t0 = Instant::now();
        let outs = s.sample(&idxs, g.group_size, &g.sample)?;
        timings.rollout += t0.elapsed().as_secs_f64();
        timings.rollout_tokens += outs.iter().map(Vec::len).sum::<usize>();
        let t0 = Instant::now();
        let mut groups = Vec::with_capacity(idxs.len());
        for (k, &idx) in idxs.iter().enumerate() {
            let completions = outs[k * g.group_size..(k + 1) * g.group_size].to_vec();
            let frame = s.answer_frame(idx)?;
            let mask = mask_for(s, masks, idx)?;
            let rewards = completions
                .iter()
                .map(|c| {
                    let text = s.completion_text(c)?;
                    Ok(rewards::score(
                        &text,
                        cfg.prep.mode,
                        &s.records()[idx],
                        &frame,
                        mask,
                        c.len(),
                        &g.rewards,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            groups.push(Group {
                example: idx,
                completions,
                rewards,
            });
        }
        timings.reward += t0.elapsed().as_secs_f64();
        if g.dynamic_sampling {
            let totals: Vec<f32> = groups
                .iter()
                .flat_map(|gr| gr.rewards.iter().map(|r| r.total as f32))
                .collect();
            let flat = zero_variance_groups(&Tensor::from_slice(&totals), g.group_size)?;
            for (gr, zero) in groups.into_iter().zip(flat) {
                if zero {
                    dropped += 1;
                } else if kept.len() < g.batch_prompts {
                    kept.push(gr);
                }
            }
            if kept.len() >= g.batch_prompts {
                break;
            }
        } else {
            kept = groups;
            break;
        }
    }
    Ok((kept, dropped, rounds, timings))
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// What one GRPO step measured; [`StepMetrics::to_map`] gives the keys of `metrics.jsonl`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepMetrics {
    /// Seconds sampling completions (`time/rollout_s`).
    pub rollout_s: f64,
    /// Seconds scoring them (`time/reward_s`).
    pub reward_s: f64,
    pub rollout_tokens_per_s: f64,
    pub groups_kept: usize,
    /// Groups dropped by dynamic sampling (equal rewards).
    pub groups_dropped: usize,
    pub sampling_rounds: usize,
    /// Mean total reward and its terms over every kept completion (`reward`, `reward/…`).
    pub reward: f64,
    pub reward_format: f64,
    pub reward_accuracy: f64,
    pub reward_length: f64,
    pub reward_process: f64,
    /// Mean completion length in tokens.
    pub completion_len: f64,
    /// The update, when a group was kept.
    pub update: Option<UpdateMetrics>,
}

/// The optimisation part of a GRPO step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateMetrics {
    pub reward_std: f64,
    /// Seconds of the μ passes (`time/update_s`).
    pub update_s: f64,
    pub loss: f64,
    pub kl: f64,
    pub clip_frac: f64,
    pub grad_norm: f64,
    pub lr: f64,
    /// Optimiser steps skipped for non-finite gradients.
    pub skipped: f64,
}

impl StepMetrics {
    /// The values as logged in `metrics.jsonl`, under their historical keys.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut v: BTreeMap<String, f64> = [
            ("time/rollout_s", self.rollout_s),
            ("time/reward_s", self.reward_s),
            ("rollout_tokens_per_s", self.rollout_tokens_per_s),
            ("groups_kept", self.groups_kept as f64),
            ("groups_dropped", self.groups_dropped as f64),
            ("sampling_rounds", self.sampling_rounds as f64),
            ("reward", self.reward),
            ("reward/format", self.reward_format),
            ("reward/accuracy", self.reward_accuracy),
            ("reward/length", self.reward_length),
            ("reward/process", self.reward_process),
            ("completion_len", self.completion_len),
        ]
        .into_iter()
        .map(|(k, x)| (k.to_string(), x))
        .collect();
        if let Some(u) = &self.update {
            for (k, x) in [
                ("reward_std", u.reward_std),
                ("time/update_s", u.update_s),
                ("loss", u.loss),
                ("kl", u.kl),
                ("clip_frac", u.clip_frac),
                ("grad_norm", u.grad_norm),
                ("lr", u.lr),
                ("skipped", u.skipped),
            ] {
                v.insert(k.to_string(), x);
            }
        }
        v
    }
}

/// One GRPO step: rollouts, rewards, advantages, μ passes of clipped-objective updates.
pub fn grpo_step<T: Trainee>(
    s: &mut T,
    reference: Option<&T::Reference>,
    step: u64,
    masks: &mut HashMap<usize, Option<Mask>>,
) -> Result<StepMetrics> {
    // Sampling is seeded per step, so a resumed run draws the same completions.
    tch::manual_seed(
        (s.cfg().run.seed as i64)
            .wrapping_mul(1_000_003)
            .wrapping_add(step as i64),
    );
    let (groups, dropped, rounds, timings) = collect_groups(s, step, masks)?;
    let update_start = Instant::now();
    let g = s.cfg().grpo.clone();
    let all: Vec<&RewardBreakdown> = groups.iter().flat_map(|gr| gr.rewards.iter()).collect();
    let mut v = StepMetrics {
        rollout_s: timings.rollout,
        reward_s: timings.reward,
        rollout_tokens_per_s: timings.rollout_tokens as f64 / timings.rollout.max(1e-9),
        groups_kept: groups.len(),
        groups_dropped: dropped,
        sampling_rounds: rounds,
        reward: mean(all.iter().map(|r| r.total)),
        reward_format: mean(all.iter().map(|r| r.format)),
        reward_accuracy: mean(all.iter().map(|r| r.accuracy)),
        reward_length: mean(all.iter().map(|r| r.length)),
        reward_process: mean(all.iter().filter_map(|r| r.process)),
        completion_len: mean(
            groups
                .iter()
                .flat_map(|gr| gr.completions.iter().map(|c| c.len() as f64)),
        ),
        update: None,
    };
    if groups.is_empty() {
        tracing::warn!(step, "every group had equal rewards; no update this step");
        return Ok(v);
    }
    let totals: Vec<f32> = all.iter().map(|r| r.total as f32).collect();
    let adv = advantages(
        &Tensor::from_slice(&totals),
        g.group_size,
        g.scale_rewards,
        g.advantage_eps,
    )?
    .to_device(s.device());
    let reward_std = f64::try_from(Tensor::from_slice(&totals).std(true))?;

    // Micro-batches hold whole groups so each image is encoded once per micro-batch.
    let groups_per_micro = groups.len().div_ceil(g.grad_accum);
    let micro: Vec<Vec<GroupRows<'_>>> = groups
        .chunks(groups_per_micro)
        .map(|chunk| {
            chunk
                .iter()
                .map(|gr| GroupRows {
                    example: gr.example,
                    completions: &gr.completions,
                })
                .collect()
        })
        .collect();
    // Log-probabilities of the sampling policy and of the reference, before any update.
    let mut old = Vec::with_capacity(micro.len());
    let mut refs = Vec::with_capacity(micro.len());
    for chunk in &micro {
        old.push(tch::no_grad(|| s.logprobs(chunk, None))?.0);
        refs.push(match reference {
            Some(r) if g.loss.beta > 0.0 => Some(tch::no_grad(|| s.logprobs(chunk, Some(r)))?.0),
            _ => None,
        });
    }
    let (mut kl, mut clip, mut loss_sum, mut grad_norm, mut lr, mut skipped) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for _pass in 0..g.mu {
        s.optim_mut().zero_grad();
        let mut row = 0i64;
        for (k, chunk) in micro.iter().enumerate() {
            let n_rows = chunk.iter().map(|gr| gr.completions.len()).sum::<usize>() as i64;
            let (logp, mask) = s.logprobs(chunk, None)?;
            let out = grpo_loss(
                &LossInputs {
                    logp: &logp,
                    old_logp: &old[k],
                    ref_logp: refs[k].as_ref(),
                    advantages: &adv.narrow(0, row, n_rows),
                    mask: &mask,
                },
                &g.loss,
            )?;
            let loss = out.loss / micro.len() as f64;
            let lv = f64::try_from(&loss)?;
            if lv.is_finite() {
                s.backward(&loss);
            } else {
                tracing::warn!(step, "non-finite GRPO loss in a micro-batch; skipped");
            }
            loss_sum += lv / g.mu as f64;
            kl += out.kl / (micro.len() * g.mu) as f64;
            clip += out.clip_frac / (micro.len() * g.mu) as f64;
            row += n_rows;
        }
        let stats = s.optim_mut().step()?;
        grad_norm = stats.grad_norm;
        lr = stats.lr;
        skipped += f64::from(u8::from(stats.skipped));
    }
    v.update = Some(UpdateMetrics {
        reward_std,
        update_s: update_start.elapsed().as_secs_f64(),
        loss: loss_sum,
        kl,
        clip_frac: clip,
        grad_norm,
        lr,
        skipped,
    });
    Ok(v)
}

/// Runs (or continues) GRPO to `cfg.grpo.steps`; returns the mean reward of the last step.
pub fn run_grpo<T: Trainee>(s: &mut T) -> Result<f64> {
    let reference = if s.cfg().grpo.loss.beta > 0.0 {
        Some(s.reference()?)
    } else {
        None
    };
    let total = s.cfg().grpo.steps;
    let start = s.start_step();
    let mut progress = Progress::new(total, start);
    let mut masks = HashMap::new();
    let eval = s.eval_set()?;
    let mut last_reward = f64::NAN;
    let autocast = s.autocast();
    for step in start..total {
        let values = tch::autocast(autocast, || {
            grpo_step(s, reference.as_ref(), step, &mut masks)
        })?;
        let done = step + 1;
        last_reward = values.reward;
        s.log_mut().log(done, "grpo", &values.to_map())?;
        progress.update(
            done,
            &[
                ("reward", last_reward),
                ("acc", values.reward_accuracy),
                ("kl", values.update.as_ref().map_or(f64::NAN, |u| u.kl)),
            ],
        );
        s.end_of_step("grpo", done, total, eval.as_ref())?;
    }
    progress.finish(&format!("grpo done: reward {last_reward:.3}"));
    Ok(last_reward)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_metrics_log_under_the_historical_keys() {
        let m = StepMetrics {
            reward: 0.5,
            groups_kept: 3,
            ..StepMetrics::default()
        };
        let map = m.to_map();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "completion_len",
                "groups_dropped",
                "groups_kept",
                "reward",
                "reward/accuracy",
                "reward/format",
                "reward/length",
                "reward/process",
                "rollout_tokens_per_s",
                "sampling_rounds",
                "time/reward_s",
                "time/rollout_s",
            ]
        );
        assert_eq!((map["reward"], map["groups_kept"]), (0.5, 3.0));
        let updated = StepMetrics {
            update: Some(UpdateMetrics {
                kl: 0.25,
                ..UpdateMetrics::default()
            }),
            ..m
        };
        let map = updated.to_map();
        assert_eq!(map.len(), 20);
        assert_eq!(map["kl"], 0.25);
        for k in [
            "reward_std",
            "time/update_s",
            "loss",
            "clip_frac",
            "grad_norm",
            "lr",
            "skipped",
        ] {
            assert!(map.contains_key(k), "{k}");
        }
    }
}
