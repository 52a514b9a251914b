//! A Qwen2-VL / Qwen2.5-VL run: the checkpoint loaded frozen, LoRA adapters trained by the
//! shared loops (`sft::run_sft`, `grpo::trainer::run_grpo`) through [`Trainee`], and only
//! the adapters (and their optimiser state) saved in the run's checkpoints.
//!
//! GRPO's reference for the KL term is the same model with its adapters switched off (the
//! base), so there is no second copy of the weights. Adapter dropout is on for SFT's
//! forward passes and off for GRPO's (so the ratio to the sampling policy starts at exactly 1).
//! `[data] eval` is evaluated by greedy decoding ([`evaluate`]), as for ReticleVLM.

use std::path::{Path, PathBuf};

use reticle_models::dataset::Record;
use reticle_models::geometry::FrameMap;
use reticle_models::metrics::EvalReport;
use reticle_models::qwen::CheckpointDir;
use reticle_models::rewards::RewardConfig;
use tch::{Device, Kind, Tensor};

use super::data::{QwenEncoder, QwenExample};
use crate::checkpoint::{self, load_into_varstore, varstore_named};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::eval::{summary_values, Scorer};
use crate::generate::SampleConfig;
use crate::metrics_log::MetricsLog;
use crate::model::qwen::lora::LoraConfig;
use crate::model::QwenVl;
use crate::optim::AdamW;
use crate::run::RunDir;
use crate::session::{read_records, StartOptions};
use crate::trainee::{GroupRows, Trainee};

/// A started Qwen fine-tuning run.
#[derive(Debug)]
pub struct QwenSession {
    pub cfg: TrainConfig,
    pub run: RunDir,
    pub device: Device,
    pub model: QwenVl,
    pub encoder: QwenEncoder,
    pub records: Vec<Record>,
    pub examples: Vec<QwenExample>,
    pub optim: AdamW,
    pub log: MetricsLog,
    pub start_step: u64,
}

/// Held-out records with their encoded examples.
#[derive(Debug)]
pub struct QwenEvalSet {
    pub records: Vec<Record>,
    pub examples: Vec<QwenExample>,
}

/// Greedy-decodes every example (one prompt at a time, with the KV cache) and scores the
/// answers with the metrics of `reticle-models`, in original pixels.
pub fn evaluate(
    model: &QwenVl,
    encoder: &QwenEncoder,
    records: &[Record],
    examples: &[QwenExample],
    max_new_tokens: usize,
    rewards: &RewardConfig,
) -> Result<EvalReport> {
    model.set_training(false);
    let mut scorer = Scorer::new(rewards, examples.len());
    let cfg = SampleConfig::greedy(max_new_tokens);
    let stop = encoder.stop_ids();
    for (record, ex) in records.iter().zip(examples) {
        let ids = model
            .sample(&ex.prompt_ids, Some(ex.images()), 1, &cfg, &stop)?
            .pop()
            .unwrap_or_default();
        scorer.add(record, encoder.decode(&ids)?, &ex.frame, ids.len())?;
    }
    Ok(scorer.finish())
}

/// A trained run: its config, the checkpoint's model with the run's last adapters, the
/// encoder, and the step.
#[derive(Debug)]
pub struct TrainedQwen {
    pub cfg: TrainConfig,
    pub model: QwenVl,
    pub encoder: QwenEncoder,
    /// The base checkpoint folder the run fine-tunes.
    pub checkpoint: CheckpointDir,
    pub step: u64,
}

/// Loads a `qwen2-vl` run's last checkpoint (for `reticle-train eval` and export).
pub fn load_trained(run_path: &Path, device: Device) -> Result<TrainedQwen> {
    load_trained_at(run_path, None, device, None)
}

/// Loads a `qwen2-vl` run with the adapters of `checkpoint` (a `<run>/checkpoints/step-N`
/// folder), or of its last checkpoint; the base weights in `dtype`, else the run's
/// `[model] dtype`.
pub fn load_trained_at(
    run_path: &Path,
    checkpoint: Option<&Path>,
    device: Device,
    dtype: Option<tch::Kind>,
) -> Result<TrainedQwen> {
    let cfg_path = run_path.join("config.toml");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg = TrainConfig::from_toml(&text)?;
    let ckpt = CheckpointDir::open(cfg.model.qwen_checkpoint()?)?;
    let mut model = QwenVl::load_as(&ckpt, device, dtype.unwrap_or(cfg.model.dtype.kind()))?;
    model.add_lora(&cfg.lora.clone().unwrap_or_default())?;
    let ck = match checkpoint {
        Some(dir) => checkpoint::load_checkpoint(dir)?,
        None => checkpoint::load_checkpoint_dir_latest(run_path)?.ok_or_else(|| Error::Run {
            path: run_path.to_path_buf(),
            message: "has no checkpoint yet".into(),
        })?,
    };
    load_into_varstore(adapters_mut(&mut model)?, &ck.model)?;
    let encoder = QwenEncoder::new(&ckpt, cfg.prep.mode)?;
    Ok(TrainedQwen {
        cfg,
        model,
        encoder,
        checkpoint: ckpt,
        step: ck.step,
    })
}

/// The adapters of `model` (there are always some once a session started).
fn adapters(model: &QwenVl) -> Result<&tch::nn::VarStore> {
    model
        .lora_var_store()
        .ok_or_else(|| Error::Config("the qwen model has no LoRA adapters".into()))
}

fn adapters_mut(model: &mut QwenVl) -> Result<&mut tch::nn::VarStore> {
    model
        .lora_var_store_mut()
        .ok_or_else(|| Error::Config("the qwen model has no LoRA adapters".into()))
}

/// Right-pads `[rows, t]` tensors with zeros to a common width and stacks their rows.
fn cat_padded(parts: &[Tensor]) -> Tensor {
    let t = parts.iter().map(|p| p.size()[1]).max().unwrap_or(0);
    let padded: Vec<Tensor> = parts
        .iter()
        .map(|p| p.constant_pad_nd([0, t - p.size()[1]]))
        .collect();
    Tensor::cat(&padded, 0)
}

/// Switches a model's adapters off until dropped (also on an early error return).
struct BaseModel<'a>(&'a QwenVl);

impl<'a> BaseModel<'a> {
    fn new(model: &'a QwenVl) -> Self {
        model.set_adapters_enabled(false);
        Self(model)
    }
}

impl Drop for BaseModel<'_> {
    fn drop(&mut self) {
        self.0.set_adapters_enabled(true);
    }
}

impl QwenSession {
    /// Creates or resumes a run: loads the checkpoint `[model] checkpoint`, adds the `[lora]`
    /// adapters (seeded by `[run] seed`), encodes the records; on `--resume` the adapters and
    /// optimiser come from the last checkpoint, with `--init` the adapters of another run's.
    pub fn start(opts: &StartOptions) -> Result<Self> {
        let (run, text) = if opts.resume {
            RunDir::open_for_resume(&opts.out, opts.device)?
        } else {
            let text = opts
                .config_toml
                .clone()
                .ok_or_else(|| Error::Config("a new run needs --config".into()))?;
            // Check the config and the checkpoint folder (headers only) before creating anything.
            let cfg = TrainConfig::from_toml(&text)?;
            CheckpointDir::open(cfg.model.qwen_checkpoint()?)?;
            (RunDir::create(&opts.out, &text, opts.device)?, text)
        };
        let cfg = TrainConfig::from_toml(&text)?;
        let ckpt = CheckpointDir::open(cfg.model.qwen_checkpoint()?)?;
        let mut model = QwenVl::load_as(&ckpt, opts.device, cfg.model.dtype.kind())?;
        model.set_gradient_checkpointing(cfg.model.gradient_checkpointing);
        tch::manual_seed(cfg.run.seed as i64);
        let lora = cfg.lora.clone().unwrap_or_default();
        model.add_lora(&lora)?;
        if let (Some(init), false) = (&opts.init, opts.resume) {
            let ck = checkpoint::load_checkpoint_dir_latest(init)?.ok_or_else(|| Error::Run {
                path: init.clone(),
                message: "has no checkpoint yet".into(),
            })?;
            load_into_varstore(adapters_mut(&mut model)?, &ck.model)?;
            tracing::info!(step = ck.step, "adapters initialised from an earlier run");
        }
        let encoder = QwenEncoder::new(&ckpt, cfg.prep.mode)?;
        let records = read_records(&cfg.data.train, cfg.data.max_train)?;
        tracing::info!(n = records.len(), "encoding training records");
        let examples = encoder.encode_all(&records)?;
        let mut optim = AdamW::new(varstore_named(adapters(&model)?), cfg.optim)?;
        let mut log = MetricsLog::open(&run)?;
        let mut start_step = 0;
        if opts.resume {
            if let Some(ck) = checkpoint::load_latest(&run)? {
                load_into_varstore(adapters_mut(&mut model)?, &ck.model)?;
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
            model,
            encoder,
            records,
            examples,
            optim,
            log,
            start_step,
        })
    }

    /// The run's LoRA settings.
    pub fn lora(&self) -> LoraConfig {
        self.cfg.lora.clone().unwrap_or_default()
    }

    /// The adapters' tensors, sorted by name: what a checkpoint holds.
    pub fn adapter_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        Ok(varstore_named(adapters(&self.model)?))
    }

    fn group_logprobs(&self, gr: &GroupRows<'_>) -> Result<(Tensor, Tensor)> {
        let ex = &self.examples[gr.example];
        self.model.completion_logprobs(
            &ex.prompt_ids,
            Some(ex.images()),
            gr.completions,
            self.encoder.pad(),
        )
    }
}

impl Trainee for QwenSession {
    /// The base model: the same weights with the adapters switched off.
    type Reference = ();
    type Eval = QwenEvalSet;

    fn cfg(&self) -> &TrainConfig {
        &self.cfg
    }

    fn start_step(&self) -> u64 {
        self.start_step
    }

    fn records(&self) -> &[Record] {
        &self.records
    }

    fn device(&self) -> Device {
        self.device
    }

    fn autocast(&self) -> bool {
        self.cfg.run.autocast && self.device.is_cuda()
    }

    fn optim_mut(&mut self) -> &mut AdamW {
        &mut self.optim
    }

    fn log_mut(&mut self) -> &mut MetricsLog {
        &mut self.log
    }

    fn sft_loss(&self, batch: &[usize]) -> Result<Tensor> {
        self.model.set_training(true);
        let mut nll = Vec::with_capacity(batch.len());
        let mut tokens = 0.0;
        for &i in batch {
            let ex = &self.examples[i];
            let (logp, mask) = self.model.completion_logprobs(
                &ex.prompt_ids,
                Some(ex.images()),
                std::slice::from_ref(&ex.target_ids),
                self.encoder.pad(),
            )?;
            nll.push(-logp.sum(Kind::Float));
            tokens += f64::try_from(mask.sum(Kind::Float))?;
        }
        let total = Tensor::stack(&nll, 0).sum(Kind::Float);
        Ok(total / tokens.max(1.0))
    }

    fn sample(&self, batch: &[usize], group: usize, cfg: &SampleConfig) -> Result<Vec<Vec<i64>>> {
        self.model.set_training(false);
        let stop = self.encoder.stop_ids();
        let mut out = Vec::with_capacity(batch.len() * group);
        for &i in batch {
            let ex = &self.examples[i];
            out.extend(
                self.model
                    .sample(&ex.prompt_ids, Some(ex.images()), group, cfg, &stop)?,
            );
        }
        Ok(out)
    }

    fn completion_text(&self, ids: &[i64]) -> Result<String> {
        self.encoder.decode(ids)
    }

    fn answer_frame(&self, example: usize) -> Result<FrameMap> {
        Ok(self.examples[example].frame)
    }

    fn logprobs(
        &self,
        groups: &[GroupRows<'_>],
        reference: Option<&()>,
    ) -> Result<(Tensor, Tensor)> {
        self.model.set_training(false);
        let _base = reference.map(|()| BaseModel::new(&self.model));
        let mut logps = Vec::with_capacity(groups.len());
        let mut masks = Vec::with_capacity(groups.len());
        for gr in groups {
            let (logp, mask) = self.group_logprobs(gr)?;
            logps.push(logp);
            masks.push(mask);
        }
        Ok((cat_padded(&logps), cat_padded(&masks)))
    }

    fn reference(&self) -> Result<()> {
        Ok(())
    }

    fn backward(&self, loss: &Tensor) {
        self.model.backward(loss);
    }

    fn eval_set(&self) -> Result<Option<QwenEvalSet>> {
        if self.cfg.data.eval.is_empty() {
            return Ok(None);
        }
        let records = read_records(&self.cfg.data.eval, self.cfg.data.max_eval)?;
        let examples = self.encoder.encode_all(&records)?;
        Ok(Some(QwenEvalSet { records, examples }))
    }

    fn end_of_step(
        &mut self,
        phase: &str,
        done: u64,
        total: u64,
        eval: Option<&QwenEvalSet>,
    ) -> Result<()> {
        if done % self.cfg.run.checkpoint_every.max(1) == 0 || done == total {
            Trainee::checkpoint(
                self,
                done,
                serde_json::json!({"phase": phase, "step": done}),
            )?;
        }
        let due =
            (self.cfg.run.eval_every > 0 && done % self.cfg.run.eval_every == 0) || done == total;
        if let (Some(set), true) = (eval, due) {
            let report = evaluate(
                &self.model,
                &self.encoder,
                &set.records,
                &set.examples,
                self.cfg.grpo.sample.max_new_tokens,
                &self.cfg.grpo.rewards,
            )?;
            self.log
                .log(done, "eval", &summary_values(&report.summary))?;
            tracing::info!(step = done, "eval\n{}", report.summary);
        }
        Ok(())
    }

    fn checkpoint(&self, step: u64, state: serde_json::Value) -> Result<PathBuf> {
        checkpoint::save_checkpoint(
            &self.run,
            step,
            &self.adapter_tensors()?,
            &self.optim.state()?,
            &state,
            &self.cfg.run.checkpoint,
        )
    }
}
