//! The pointer policy's run: SFT with GUI-Actor's loss, then GRPO on sampled clicks, on the
//! run machinery every architecture shares (run directory, config, checkpoints and
//! `--resume`, AdamW, metrics log, progress, plots) and the one GRPO objective
//! (`grpo::loss`: group advantages, ε_low/ε_high clipping, k3 KL to the frozen reference,
//! dynamic sampling, μ passes) with the one reward function (`rewards::score`).
//!
//! A GRPO "completion" of the pointer is two actions — the anchor patch, then the target
//! candidate — written in the answer grammar as `<think>(anchor)</think><answer>(click)</answer>`,
//! so the same rewards score it: point-in-box / in-mask accuracy and the spatial process term
//! on the anchor. Its log-probabilities are a two-token sequence (the anchor token is masked
//! out for records without an anchor).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use reticle_models::dataset::Record;
use reticle_models::geometry::{CoordFrame, FrameMap, Mask, ResizeMode};
use reticle_models::grammar::Mode;
use reticle_models::pointer as contract;
use reticle_models::rewards;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use super::data::{PointerEncoder, PointerExample, Region, SpanIndex};
use crate::checkpoint::{self, load_into_varstore, varstore_named};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::grpo::loss::{advantages, grpo_loss, zero_variance_groups, LossInputs};
use crate::metrics_log::{MetricsLog, Progress};
use crate::model::pointer::{PointerConfig, PointerNet};
use crate::optim::AdamW;
use crate::run::RunDir;
use crate::session::{batch_indices, read_records, StartOptions};

/// The frozen reference's weights inside a GRPO run directory.
pub const REFERENCE_FILE: &str = "reference.safetensors";

/// A started pointer run.
#[derive(Debug)]
pub struct PointerSession {
    pub cfg: TrainConfig,
    pub run: RunDir,
    pub device: Device,
    pub encoder: PointerEncoder,
    pub model: PointerNet,
    pub records: Vec<Record>,
    pub examples: Vec<PointerExample>,
    pub optim: AdamW,
    pub log: MetricsLog,
    pub start_step: u64,
}

/// Encodes records in parallel with the spans of `index` (or the drawn labels).
pub fn encode_all(
    enc: &PointerEncoder,
    records: &[Record],
    index: &SpanIndex,
    seed: u64,
) -> Result<Vec<PointerExample>> {
    records
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let spans = enc.spans_for(r, index, seed ^ i as u64);
            enc.example(i, r, &spans)
        })
        .collect()
}

/// A pointer run's config, model and last-checkpoint weights (for `--init`, eval, export).
pub fn load_trained(run_path: &Path, device: Device) -> Result<(TrainConfig, PointerNet, u64)> {
    let cfg_path = run_path.join("config.toml");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg = TrainConfig::from_toml(&text)?;
    let mut model = PointerNet::new(&cfg.model.resolve_pointer()?, device)?;
    let ck = checkpoint::load_checkpoint_dir_latest(run_path)?.ok_or_else(|| Error::Run {
        path: run_path.to_path_buf(),
        message: "has no checkpoint yet".into(),
    })?;
    load_into_varstore(model.var_store_mut(), &ck.model)?;
    Ok((cfg, model, ck.step))
}

/// Loads `--init`'s weights into `model`: an earlier pointer run (its last checkpoint) or an
/// exported pointer package (the graph's initializers, [`super::package`]).
fn init_from(model: &mut PointerNet, init: &Path, device: Device) -> Result<()> {
    if super::package::is_package(init) {
        super::package::load_package_into(init, model)?;
        tracing::info!(package = %init.display(), "initialised from a package");
        return Ok(());
    }
    let mcfg = model.config().clone();
    let (icfg, imodel, step) = load_trained(init, device)?;
    let icfg = icfg.model.resolve_pointer()?;
    if !mcfg.extends(&icfg) {
        let hint = if icfg.relative && !mcfg.relative {
            "; it has the relative head: add `[model.overrides] relative = true`"
        } else if icfg.nothing && !mcfg.nothing {
            "; it has the nothing head: add `[model.overrides] nothing = true`"
        } else {
            ""
        };
        return Err(Error::Config(format!(
            "--init run {} has a different pointer model config{hint} (weights \
             differ: {icfg:?} vs {mcfg:?})",
            init.display()
        )));
    }
    model.load_from(&imodel)?;
    tracing::info!(step, "initialised from an earlier run");
    Ok(())
}

impl PointerSession {
    pub fn start(opts: &StartOptions) -> Result<Self> {
        let (run, text) = if opts.resume {
            RunDir::open_for_resume(&opts.out, opts.device)?
        } else {
            let text = opts
                .config_toml
                .clone()
                .ok_or_else(|| Error::Config("a new run needs --config".into()))?;
            TrainConfig::from_toml(&text)?;
            (RunDir::create(&opts.out, &text, opts.device)?, text)
        };
        let cfg = TrainConfig::from_toml(&text)?;
        tch::manual_seed(cfg.run.seed as i64);
        let mcfg = cfg.model.resolve_pointer()?;
        let mut model = PointerNet::new(&mcfg, opts.device)?;
        if let (Some(init), false) = (&opts.init, opts.resume) {
            init_from(&mut model, init, opts.device)?;
        }
        let encoder = PointerEncoder::new(mcfg, cfg.prep.clone());
        let records = read_records(&cfg.data.train, cfg.data.max_train)?;
        let spans = SpanIndex::load(&cfg.data.train)?;
        tracing::info!(
            n = records.len(),
            perceived = spans.len(),
            "encoding training records (spans from spans.jsonl where present, else the drawn labels)"
        );
        let t0 = Instant::now();
        let examples = encode_all(&encoder, &records, &spans, cfg.run.seed)?;
        let packed: usize = examples.iter().map(|e| e.pixels.packed_len()).sum();
        tracing::info!(
            seconds = t0.elapsed().as_secs_f64(),
            planes_mb = packed as f64 / 1e6,
            "encoded (input planes compressed in memory)"
        );
        let mut optim = AdamW::new(varstore_named(model.var_store()), cfg.optim)?;
        let mut log = MetricsLog::open(&run)?;
        let mut start_step = 0;
        if opts.resume {
            if let Some(ck) = checkpoint::load_latest(&run)? {
                load_into_varstore(model.var_store_mut(), &ck.model)?;
                optim.load_state(&ck.optim)?;
                start_step = ck.step;
                tracing::info!(step = ck.step, "resumed from checkpoint");
            }
            log.truncate_after(start_step)?;
        }
        Ok(Self {
            cfg,
            run,
            device: opts.device,
            encoder,
            model,
            records,
            examples,
            optim,
            log,
            start_step,
        })
    }

    fn eval_set(&self) -> Result<Option<(Vec<Record>, Vec<PointerExample>)>> {
        if self.cfg.data.eval.is_empty() {
            return Ok(None);
        }
        let records = read_records(&self.cfg.data.eval, self.cfg.data.max_eval)?;
        let spans = SpanIndex::load(&self.cfg.data.eval)?;
        let examples = encode_all(&self.encoder, &records, &spans, 0)?;
        Ok(Some((records, examples)))
    }

    fn end_of_step(
        &mut self,
        phase: &str,
        done: u64,
        total: u64,
        eval: Option<&(Vec<Record>, Vec<PointerExample>)>,
    ) -> Result<()> {
        if done % self.cfg.run.checkpoint_every.max(1) == 0 || done == total {
            self.checkpoint(done, phase)?;
        }
        let due =
            (self.cfg.run.eval_every > 0 && done % self.cfg.run.eval_every == 0) || done == total;
        if let (Some((records, examples)), true) = (eval, due) {
            let report = evaluate(&self.model, &self.encoder, records, examples)?;
            let mut values = BTreeMap::new();
            values.insert("accuracy".to_string(), report.accuracy);
            values.insert("confidence".to_string(), report.mean_confidence);
            self.log.log(done, "eval", &values)?;
            tracing::info!(step = done, "eval\n{report}");
        }
        Ok(())
    }

    pub fn checkpoint(&self, step: u64, phase: &str) -> Result<PathBuf> {
        checkpoint::save_checkpoint(
            &self.run,
            step,
            &varstore_named(self.model.var_store()),
            &self.optim.state()?,
            &serde_json::json!({"phase": phase, "step": step, "architecture": "pointer"}),
            &self.cfg.run.checkpoint,
        )
    }
}

/// Held-out accuracy of greedy clicks, overall and per sub-kind (`meta.element` /
/// `meta.expression`).
#[derive(Debug, Clone, Serialize)]
pub struct PointerEval {
    pub n: usize,
    /// Greedy clicks by the runtime's rule (`reticle_models::pointer::select`).
    pub accuracy: f64,
    /// Clicks on the single most probable candidate, for comparison.
    pub argmax_accuracy: f64,
    pub mean_confidence: f64,
    pub by_kind: BTreeMap<String, (usize, usize)>,
}

impl std::fmt::Display for PointerEval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "point accuracy {:.1} % of {} (mean confidence {:.2})",
            100.0 * self.accuracy,
            self.n,
            self.mean_confidence
        )?;
        for (k, (hit, n)) in &self.by_kind {
            writeln!(
                f,
                "  {k:<16} {:>5.1} % of {n}",
                100.0 * *hit as f64 / (*n).max(1) as f64
            )?;
        }
        Ok(())
    }
}

fn sub_kind(r: &Record) -> String {
    r.meta
        .as_ref()
        .and_then(|m| m.get("element").or_else(|| m.get("expression")))
        .and_then(|v| v.as_str())
        .unwrap_or(r.task.as_str())
        .to_string()
}

/// Greedy evaluation: the argmax candidate's click against the target region.
pub fn evaluate(
    model: &PointerNet,
    enc: &PointerEncoder,
    records: &[Record],
    examples: &[PointerExample],
) -> Result<PointerEval> {
    let mut hits = 0usize;
    let mut arg_hits = 0usize;
    let mut conf = 0.0;
    let mut by_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for chunk in examples.chunks(8) {
        let refs: Vec<&PointerExample> = chunk.iter().collect();
        let inputs = enc.batch(&refs, model.device())?;
        let out = tch::no_grad(|| model.forward(&inputs));
        let probs = out.logits.softmax(-1, Kind::Float).to_device(Device::Cpu);
        let arg = Vec::<i64>::try_from(&probs.argmax(1, false))?;
        let offs = out.offsets.to_device(Device::Cpu);
        for (k, e) in chunk.iter().enumerate() {
            let r = &records[e.index];
            let region = Region::of(r)?;
            let o = Vec::<f32>::try_from(offs.get(k as i64).flatten(0, 1))?;
            let pr = Vec::<f32>::try_from(probs.get(k as i64))?;
            let names_nothing = matches!(region, Region::Nothing);
            let arg_nothing = enc.is_nothing_slot(arg[k] as usize);
            let arg_hit = if names_nothing || arg_nothing {
                names_nothing && arg_nothing
            } else {
                enc.click(e, arg[k] as usize, &o)
                    .is_some_and(|p| region.hit(p))
            };
            arg_hits += usize::from(arg_hit);
            let sel = enc.select(e, &pr, &o);
            let p_nothing = enc.nothing_probability(&pr);
            let nothing = enc.cfg.nothing && contract::nothing_wins(p_nothing, sel.as_ref(), 0.0);
            let hit = if names_nothing || nothing {
                names_nothing && nothing
            } else {
                sel.as_ref().is_some_and(|s| region.hit(s.point))
            };
            hits += usize::from(hit);
            conf += if nothing {
                f64::from(p_nothing)
            } else {
                sel.map_or(0.0, |s| f64::from(s.confidence))
            };
            let ent = by_kind.entry(sub_kind(r)).or_default();
            ent.0 += usize::from(hit);
            ent.1 += 1;
        }
    }
    let n = examples.len().max(1);
    Ok(PointerEval {
        n: examples.len(),
        accuracy: hits as f64 / n as f64,
        argmax_accuracy: arg_hits as f64 / n as f64,
        mean_confidence: conf / n as f64,
        by_kind,
    })
}

/// GUI-Actor's SFT loss: cross-entropy to the uniform distribution over the candidates inside
/// the target, plus the click offsets inside target patches (smooth L1) and the anchor step.
pub fn sft_loss(
    model: &PointerNet,
    enc: &PointerEncoder,
    batch: &[&PointerExample],
) -> Result<(Tensor, BTreeMap<String, f64>)> {
    let dev = model.device();
    let out = model.forward(&enc.batch(batch, dev)?);
    let b = batch.len() as i64;
    let p = enc.cfg.patches() as i64;
    let stack = |f: &dyn Fn(&PointerExample) -> &[f32], shape: &[i64]| {
        let v: Vec<f32> = batch.iter().flat_map(|e| f(e).iter().copied()).collect();
        Tensor::from_slice(&v).view(shape).to_device(dev)
    };
    let target = stack(&|e| &e.target, &[b, -1]);
    let ce = -(target * out.logits.log_softmax(-1, Kind::Float))
        .sum_dim_intlist(1, false, Kind::Float)
        .mean(Kind::Float);
    let om = stack(&|e| &e.offset_mask, &[b, p, 1]);
    let ot = stack(&|e| &e.offset_target, &[b, p, 2]);
    let off = ((&out.offsets - ot).abs() * &om).sum(Kind::Float)
        / (om.sum(Kind::Float) * 2.0).clamp_min(1.0);
    let has: Vec<f32> = batch
        .iter()
        .map(|e| f32::from(u8::from(e.anchor.is_some())))
        .collect();
    let zeros = vec![0f32; p as usize];
    let av: Vec<f32> = batch
        .iter()
        .flat_map(|e| e.anchor.as_deref().unwrap_or(&zeros).iter().copied())
        .collect();
    let at = Tensor::from_slice(&av).view([b, p]).to_device(dev);
    let has_t = Tensor::from_slice(&has).to_device(dev);
    let anchor = (-(at * out.anchor_logits.log_softmax(-1, Kind::Float)).sum_dim_intlist(
        1,
        false,
        Kind::Float,
    ) * &has_t)
        .sum(Kind::Float)
        / has_t.sum(Kind::Float).clamp_min(1.0);
    let loss = &ce + &off + 0.5 * &anchor;
    let mut stats = BTreeMap::new();
    stats.insert("loss/ce".to_string(), f64::try_from(&ce)?);
    stats.insert("loss/offset".to_string(), f64::try_from(&off)?);
    stats.insert("loss/anchor".to_string(), f64::try_from(&anchor)?);
    Ok((loss, stats))
}

/// Runs (or continues) SFT to `cfg.sft.steps`; returns the last loss.
pub fn run_sft(s: &mut PointerSession) -> Result<f64> {
    let total = s.cfg.sft.steps;
    let mut progress = Progress::new(total, s.start_step);
    let eval = s.eval_set()?;
    let mut last = f64::NAN;
    for step in s.start_step..total {
        let idx = batch_indices(s.examples.len(), s.cfg.sft.batch_size, s.cfg.run.seed, step);
        let batch: Vec<&PointerExample> = idx.iter().map(|&i| &s.examples[i]).collect();
        let (loss, mut values) = sft_loss(&s.model, &s.encoder, &batch)?;
        let lv = f64::try_from(&loss)?;
        if lv.is_finite() {
            s.optim.zero_grad();
            loss.backward();
            let st = s.optim.step()?;
            values.insert("grad_norm".into(), st.grad_norm);
            values.insert("lr".into(), st.lr);
            values.insert("skipped".into(), f64::from(u8::from(st.skipped)));
            last = lv;
        } else {
            tracing::warn!(step, "non-finite SFT loss; step skipped");
            values.insert("skipped".into(), 1.0);
        }
        values.insert("loss".into(), lv);
        s.log.log(step + 1, "sft", &values)?;
        progress.update(step + 1, &[("loss", lv)]);
        s.end_of_step("sft", step + 1, total, eval.as_ref())?;
    }
    if total == 0 {
        s.checkpoint(0, "sft")?;
    }
    progress.finish(&format!("sft done: loss {last:.4}"));
    Ok(last)
}

/// The frozen reference: the weights GRPO started from, saved in the run for `--resume`.
pub fn reference_model(s: &PointerSession) -> Result<PointerNet> {
    let path = s.run.root().join(REFERENCE_FILE);
    let mut reference = PointerNet::new(s.model.config(), s.device)?;
    if path.is_file() {
        load_into_varstore(reference.var_store_mut(), &Tensor::read_safetensors(&path)?)?;
    } else {
        let named = varstore_named(s.model.var_store());
        load_into_varstore(reference.var_store_mut(), &named)?;
        let cpu: Vec<(String, Tensor)> = named
            .iter()
            .map(|(n, t)| (n.clone(), t.detach().to_device(Device::Cpu)))
            .collect();
        let tmp = path.with_extension("safetensors.tmp");
        Tensor::write_safetensors(&cpu, &tmp)?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    }
    reference.var_store_mut().freeze();
    Ok(reference)
}

/// Log-probabilities `[B·G, 2]` (anchor, target) of sampled actions under `out` at temperature `temp`.
fn action_logp(
    logits: &Tensor,
    anchor_logits: &Tensor,
    target: &Tensor,
    anchor: &Tensor,
    g: i64,
    temp: f64,
) -> Tensor {
    let rep = |t: &Tensor| t.repeat_interleave_self_int(g, Some(0), None);
    let lt =
        rep(&(logits / temp).log_softmax(-1, Kind::Float)).gather(1, &target.unsqueeze(1), false);
    let la = rep(&(anchor_logits / temp).log_softmax(-1, Kind::Float)).gather(
        1,
        &anchor.unsqueeze(1),
        false,
    );
    Tensor::cat(&[la, lt], 1)
}

/// One prompt's G sampled actions and their rewards.
#[derive(Debug)]
struct Rollout {
    example: usize,
    targets: Vec<i64>,
    anchors: Vec<i64>,
    total: Vec<f64>,
    accuracy: Vec<f64>,
    process: Vec<f64>,
}

/// One GRPO step; returns the values logged under `grpo`.
pub fn grpo_step(
    s: &mut PointerSession,
    reference: Option<&PointerNet>,
    step: u64,
    masks: &mut HashMap<usize, Option<Mask>>,
) -> Result<BTreeMap<String, f64>> {
    let gcfg = s.cfg.grpo.clone();
    let g = gcfg.group_size as i64;
    let temp = gcfg.sample.temperature.max(1e-3);
    let dev = s.device;
    let t0 = Instant::now();
    // Roll out, refilling groups whose rewards are all equal (dynamic sampling).
    let mut kept: Vec<Rollout> = Vec::new();
    let mut dropped = 0usize;
    let mut entropy = Vec::new();
    for round in 0..=gcfg.max_refill_rounds {
        let seed = if round == 0 {
            s.cfg.run.seed
        } else {
            s.cfg.run.seed ^ (round as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
        };
        let idxs = batch_indices(s.examples.len(), gcfg.batch_prompts, seed, step);
        let batch: Vec<&PointerExample> = idxs.iter().map(|&i| &s.examples[i]).collect();
        let inputs = s.encoder.batch(&batch, dev)?;
        let out = tch::no_grad(|| s.model.forward(&inputs));
        let probs = (&out.logits / temp).softmax(-1, Kind::Float);
        entropy.push(f64::try_from(
            -(&probs * probs.clamp_min(1e-12).log())
                .sum_dim_intlist(1, false, Kind::Float)
                .mean(Kind::Float),
        )?);
        let targets = probs.multinomial(g, true).to_device(Device::Cpu);
        let anchors = (&out.anchor_logits / temp)
            .softmax(-1, Kind::Float)
            .multinomial(g, true)
            .to_device(Device::Cpu);
        let offs = out.offsets.to_device(Device::Cpu);
        for (k, e) in batch.iter().enumerate() {
            let r = &s.records[e.index];
            let o = Vec::<f32>::try_from(offs.get(k as i64).flatten(0, 1))?;
            let tk = Vec::<i64>::try_from(targets.get(k as i64))?;
            let ak = Vec::<i64>::try_from(anchors.get(k as i64))?;
            let frame = FrameMap::new(
                e.original,
                s.encoder.input(),
                ResizeMode::Stretch,
                CoordFrame::Norm1000,
            )?;
            if let std::collections::hash_map::Entry::Vacant(v) = masks.entry(e.index) {
                v.insert(crate::eval::target_mask(r)?);
            }
            let mask = masks.get(&e.index).and_then(Option::as_ref);
            let (mut tot, mut acc, mut proc_) = (Vec::new(), Vec::new(), Vec::new());
            for j in 0..g as usize {
                // The nothing slot answers the empty list `[]`.
                let click = if s.encoder.is_nothing_slot(tk[j] as usize) {
                    Some(None)
                } else {
                    s.encoder.click(e, tk[j] as usize, &o).map(Some)
                };
                let anchor = s.encoder.click(e, ak[j] as usize, &o);
                let (Some(c), Some(a)) = (click, anchor) else {
                    tot.push(0.0);
                    acc.push(0.0);
                    proc_.push(0.0);
                    continue;
                };
                let a = frame.original_to_answer(a);
                let answer = match c {
                    Some(c) => {
                        let c = frame.original_to_answer(c);
                        format!("({:.0},{:.0})", c.x, c.y)
                    }
                    None => "[]".to_string(),
                };
                let text = format!(
                    "<think>({:.0},{:.0})</think><answer>{answer}</answer>",
                    a.x, a.y
                );
                let rb = rewards::score(&text, Mode::Think, r, &frame, mask, 1, &gcfg.rewards);
                tot.push(rb.total);
                acc.push(rb.accuracy);
                proc_.push(rb.process.unwrap_or(0.0));
            }
            let flat: Vec<f32> = tot.iter().map(|&v| v as f32).collect();
            let zero = zero_variance_groups(&Tensor::from_slice(&flat), g as usize)?[0];
            if gcfg.dynamic_sampling && zero {
                dropped += 1;
            } else if kept.len() < gcfg.batch_prompts {
                kept.push(Rollout {
                    example: e.index,
                    targets: tk,
                    anchors: ak,
                    total: tot,
                    accuracy: acc,
                    process: proc_,
                });
            }
        }
        if !gcfg.dynamic_sampling || kept.len() >= gcfg.batch_prompts {
            break;
        }
    }
    let rollout_s = t0.elapsed().as_secs_f64();
    let mut values = BTreeMap::new();
    let all = |f: &dyn Fn(&Rollout) -> &Vec<f64>| {
        let v: Vec<f64> = kept.iter().flat_map(|k| f(k).iter().copied()).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    values.insert("reward".into(), all(&|k| &k.total));
    values.insert("reward/accuracy".into(), all(&|k| &k.accuracy));
    values.insert("reward/process".into(), all(&|k| &k.process));
    values.insert(
        "entropy".into(),
        entropy.iter().sum::<f64>() / entropy.len().max(1) as f64,
    );
    values.insert("groups_kept".into(), kept.len() as f64);
    values.insert("groups_dropped".into(), dropped as f64);
    values.insert(
        "zero_variance_share".into(),
        dropped as f64 / (dropped + kept.len()).max(1) as f64,
    );
    values.insert("time/rollout_s".into(), rollout_s);
    if kept.is_empty() {
        return Ok(values);
    }
    // The update: μ passes over the kept groups.
    let batch: Vec<&PointerExample> = kept.iter().map(|k| &s.examples[k.example]).collect();
    let inputs = s.encoder.batch(&batch, dev)?;
    let target = Tensor::from_slice(
        &kept
            .iter()
            .flat_map(|k| k.targets.clone())
            .collect::<Vec<_>>(),
    )
    .to_device(dev);
    let anchor = Tensor::from_slice(
        &kept
            .iter()
            .flat_map(|k| k.anchors.clone())
            .collect::<Vec<_>>(),
    )
    .to_device(dev);
    let rewards_t = Tensor::from_slice(
        &kept
            .iter()
            .flat_map(|k| k.total.iter().map(|&v| v as f32))
            .collect::<Vec<_>>(),
    )
    .to_device(dev);
    let adv = advantages(
        &rewards_t,
        g as usize,
        gcfg.scale_rewards,
        gcfg.advantage_eps,
    )?;
    let has: Vec<f32> = kept
        .iter()
        .flat_map(|k| {
            std::iter::repeat_n(
                f32::from(u8::from(s.examples[k.example].anchor.is_some())),
                g as usize,
            )
        })
        .collect();
    let has = Tensor::from_slice(&has).to_device(dev).unsqueeze(1);
    let mask = Tensor::cat(
        &[has, Tensor::ones([target.size()[0], 1], (Kind::Float, dev))],
        1,
    );
    let old = tch::no_grad(|| {
        let o = s.model.forward(&inputs);
        action_logp(&o.logits, &o.anchor_logits, &target, &anchor, g, temp)
    });
    let ref_logp = reference.map(|m| {
        tch::no_grad(|| {
            let o = m.forward(&inputs);
            action_logp(&o.logits, &o.anchor_logits, &target, &anchor, g, temp)
        })
    });
    for pass in 0..gcfg.mu {
        let o = s.model.forward(&inputs);
        let logp = action_logp(&o.logits, &o.anchor_logits, &target, &anchor, g, temp);
        let lo = grpo_loss(
            &LossInputs {
                logp: &logp,
                old_logp: &old,
                ref_logp: ref_logp.as_ref(),
                advantages: &adv,
                mask: &mask,
            },
            &gcfg.loss,
        )?;
        s.optim.zero_grad();
        lo.loss.backward();
        let st = s.optim.step()?;
        if pass + 1 == gcfg.mu {
            values.insert("loss".into(), f64::try_from(&lo.loss)?);
            values.insert("kl".into(), lo.kl);
            values.insert("clip_frac".into(), lo.clip_frac);
            values.insert("grad_norm".into(), st.grad_norm);
            values.insert("lr".into(), st.lr);
        }
    }
    values.insert("time/step_s".into(), t0.elapsed().as_secs_f64());
    Ok(values)
}

/// Runs (or continues) GRPO to `cfg.grpo.steps`; returns the mean reward of the last step.
pub fn run_grpo(s: &mut PointerSession) -> Result<f64> {
    let reference = if s.cfg.grpo.loss.beta > 0.0 {
        Some(reference_model(s)?)
    } else {
        None
    };
    let total = s.cfg.grpo.steps;
    let mut progress = Progress::new(total, s.start_step);
    let eval = s.eval_set()?;
    let mut masks = HashMap::new();
    let mut last = f64::NAN;
    for step in s.start_step..total {
        let values = grpo_step(s, reference.as_ref(), step, &mut masks)?;
        last = values.get("reward").copied().unwrap_or(f64::NAN);
        s.log.log(step + 1, "grpo", &values)?;
        progress.update(
            step + 1,
            &[
                ("reward", last),
                (
                    "entropy",
                    values.get("entropy").copied().unwrap_or(f64::NAN),
                ),
            ],
        );
        s.end_of_step("grpo", step + 1, total, eval.as_ref())?;
    }
    progress.finish(&format!("grpo done: reward {last:.3}"));
    Ok(last)
}

/// `PointerConfig` of a run config (for callers that only have the config).
pub fn model_config(cfg: &TrainConfig) -> Result<PointerConfig> {
    cfg.model.resolve_pointer()
}
