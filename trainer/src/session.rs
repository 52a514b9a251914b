//! Everything a training command sets up before its loop: the run directory (new or
//! resumed), the configuration, the tokenizer, the model (fresh, from an earlier run, or from
//! the last checkpoint), the encoded examples, the optimizer and the metrics log.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use reticle_models::dataset::{self, Record};
use reticle_models::geometry::FrameMap;
use reticle_models::tokenizer::TextTokenizer;
use tch::{Device, Tensor};

use crate::checkpoint::{self, load_into_varstore, varstore_named};
use crate::config::TrainConfig;
use crate::data::{tokenizer_corpus, Encoder, Example};
use crate::error::{Error, Result};
use crate::generate::{completion_logprobs, generate, SampleConfig};
use crate::metrics_log::MetricsLog;
use crate::model::{Policy, ReticleVlm, VlmConfig};
use crate::optim::AdamW;
use crate::run::RunDir;
use crate::trainee::{GroupRows, Trainee};

/// The tokenizer file inside a run directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// How a command starts.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The run directory to create (or resume).
    pub out: PathBuf,
    /// TOML config text for a new run (ignored on resume: the saved one is used).
    pub config_toml: Option<String>,
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
    /// Start from the weights (and tokenizer) of another run's last checkpoint.
    pub init: Option<PathBuf>,
    pub device: Device,
}

/// A started training session.
#[derive(Debug)]
pub struct Session {
    pub cfg: TrainConfig,
    pub run: RunDir,
    pub device: Device,
    pub encoder: Encoder,
    pub model: ReticleVlm,
    pub records: Vec<Record>,
    pub examples: Vec<Example>,
    pub optim: AdamW,
    pub log: MetricsLog,
    /// First step to run (0 for a new run, checkpoint step for a resumed one).
    pub start_step: u64,
    /// Trainer state saved with the last checkpoint (on resume).
    pub resumed_state: Option<serde_json::Value>,
}

/// Held-out records with their encoded examples.
#[derive(Debug)]
pub struct EvalSet {
    pub records: Vec<Record>,
    pub examples: Vec<Example>,
}

/// Reads every dataset of `paths`, keeping at most `max` records (0 = all).
pub fn read_records(paths: &[PathBuf], max: usize) -> Result<Vec<Record>> {
    let mut all = Vec::new();
    for p in paths {
        all.extend(dataset::read_dataset(p)?);
    }
    if max > 0 {
        all.truncate(max);
    }
    if all.is_empty() {
        return Err(Error::Config(format!(
            "the datasets {paths:?} hold no records"
        )));
    }
    Ok(all)
}

/// Encodes records in parallel (image decoding dominates).
pub fn encode_all(encoder: &Encoder, records: &[Record]) -> Result<Vec<Example>> {
    records
        .par_iter()
        .enumerate()
        .map(|(i, r)| encoder.example(i, r))
        .collect()
}

/// Loads a run's tokenizer, model config and last-checkpoint weights, e.g. for `--init`,
/// evaluation and export.
pub fn load_trained(
    run_path: &Path,
    device: Device,
) -> Result<(TrainConfig, TextTokenizer, ReticleVlm, u64)> {
    let cfg_text = std::fs::read_to_string(run_path.join("config.toml"))
        .map_err(|e| Error::io(run_path.join("config.toml"), e))?;
    let cfg = TrainConfig::from_toml(&cfg_text)?;
    let tokenizer = TextTokenizer::load(&run_path.join(TOKENIZER_FILE))?;
    let mut mcfg = cfg.model.resolve()?;
    mcfg.vocab_size = tokenizer.vocab_size();
    let mut model = ReticleVlm::new(&mcfg, device)?;
    let ck = checkpoint::load_checkpoint_dir_latest(run_path)?.ok_or_else(|| Error::Run {
        path: run_path.to_path_buf(),
        message: "has no checkpoint yet".into(),
    })?;
    load_into_varstore(model.var_store_mut(), &ck.model)?;
    Ok((cfg, tokenizer, model, ck.step))
}

impl Session {
    /// Creates or resumes a run and prepares everything for `phase` ("sft" or "grpo").
    pub fn start(opts: &StartOptions) -> Result<Self> {
        let (run, cfg_text) = if opts.resume {
            RunDir::open_for_resume(&opts.out, opts.device)?
        } else {
            let text = opts
                .config_toml
                .clone()
                .ok_or_else(|| Error::Config("a new run needs --config".into()))?;
            // Check before creating anything on disk.
            TrainConfig::from_toml(&text)?;
            (RunDir::create(&opts.out, &text, opts.device)?, text)
        };
        let cfg = TrainConfig::from_toml(&cfg_text)?;
        tch::manual_seed(cfg.run.seed as i64);

        let records = read_records(&cfg.data.train, cfg.data.max_train)?;
        let tok_path = run.root().join(TOKENIZER_FILE);
        let init = match &opts.init {
            Some(p) if !opts.resume => Some(load_trained(p, opts.device)?),
            _ => None,
        };
        let tokenizer = if tok_path.is_file() {
            TextTokenizer::load(&tok_path)?
        } else {
            let tk = match &init {
                Some((_, tk, _, _)) => tk.clone(),
                None => {
                    tracing::info!(vocab_size = cfg.data.vocab_size, "training the tokenizer");
                    TextTokenizer::train(tokenizer_corpus(&records).iter(), cfg.data.vocab_size)?
                }
            };
            tk.save(&tok_path)?;
            tk
        };

        let mut mcfg: VlmConfig = cfg.model.resolve()?;
        mcfg.vocab_size = tokenizer.vocab_size();
        let mut model = ReticleVlm::new(&mcfg, opts.device)?;
        if let Some((init_cfg, _, init_model, step)) = &init {
            let init_mcfg = init_cfg.model.resolve()?;
            if (
                init_mcfg.image_width,
                init_mcfg.image_height,
                init_mcfg.hidden_size,
            ) != (mcfg.image_width, mcfg.image_height, mcfg.hidden_size)
            {
                return Err(Error::Config(format!(
                    "--init run has model size `{}`, this config `{}`",
                    init_cfg.model.size, cfg.model.size
                )));
            }
            load_into_varstore(
                model.var_store_mut(),
                &varstore_named(init_model.var_store()),
            )?;
            tracing::info!(step, "initialised from an earlier run");
        }

        let encoder = Encoder::new(tokenizer, cfg.prep.clone(), model.input_shape())?;
        tracing::info!(n = records.len(), "encoding training records");
        let examples = encode_all(&encoder, &records)?;

        let params = varstore_named(model.var_store());
        let mut optim = AdamW::new(params, cfg.optim)?;
        let mut log = MetricsLog::open(&run)?;
        let mut start_step = 0;
        let mut resumed_state = None;
        if opts.resume {
            if let Some(ck) = checkpoint::load_latest(&run)? {
                load_into_varstore(model.var_store_mut(), &ck.model)?;
                optim.load_state(&ck.optim)?;
                start_step = ck.step;
                resumed_state = Some(ck.state);
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
            resumed_state,
        })
    }

    /// Whether forward passes run under autocast (CUDA only).
    pub fn autocast(&self) -> bool {
        self.cfg.run.autocast && self.device.is_cuda()
    }

    /// The evaluation records and examples of the config (`[data] eval`), if any.
    pub fn eval_set(&self) -> Result<Option<EvalSet>> {
        if self.cfg.data.eval.is_empty() {
            return Ok(None);
        }
        let records = read_records(&self.cfg.data.eval, self.cfg.data.max_eval)?;
        let examples = encode_all(&self.encoder, &records)?;
        Ok(Some(EvalSet { records, examples }))
    }

    /// What every training loop does after step `done` of `total`: checkpoint every
    /// `checkpoint_every` steps and at the end, evaluate every `eval_every` steps and at the end.
    pub fn end_of_step(
        &mut self,
        phase: &str,
        done: u64,
        total: u64,
        eval: Option<&EvalSet>,
    ) -> Result<()> {
        if done % self.cfg.run.checkpoint_every.max(1) == 0 || done == total {
            self.checkpoint(done, serde_json::json!({"phase": phase, "step": done}))?;
        }
        let due =
            (self.cfg.run.eval_every > 0 && done % self.cfg.run.eval_every == 0) || done == total;
        if let (Some(set), true) = (eval, due) {
            let report = crate::eval::evaluate(
                &self.model,
                &self.encoder,
                &set.records,
                &set.examples,
                16,
                self.cfg.grpo.sample.max_new_tokens,
                &self.cfg.grpo.rewards,
            )?;
            self.log
                .log(done, "eval", &crate::eval::summary_values(&report.summary))?;
            tracing::info!(step = done, "eval\n{}", report.summary);
        }
        Ok(())
    }

    /// Saves a checkpoint of the model and optimizer at `step`.
    pub fn checkpoint(&self, step: u64, state: serde_json::Value) -> Result<PathBuf> {
        let model = varstore_named(self.model.var_store());
        let optim = self.optim.state()?;
        checkpoint::save_checkpoint(
            &self.run,
            step,
            &model,
            &optim,
            &state,
            &self.cfg.run.checkpoint,
        )
    }
}

/// ReticleVLM through the training loops' seam: images stretched to the model's input,
/// `[image tokens][left-padded prompt][completion]`, positions that skip padding, and a frozen
/// copy of the starting weights as GRPO's reference.
impl Trainee for Session {
    type Reference = ReticleVlm;
    type Eval = EvalSet;

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
        Session::autocast(self)
    }

    fn optim_mut(&mut self) -> &mut AdamW {
        &mut self.optim
    }

    fn log_mut(&mut self) -> &mut MetricsLog {
        &mut self.log
    }

    fn sft_loss(&self, batch: &[usize]) -> Result<Tensor> {
        crate::sft::sft_loss(self, batch)
    }

    fn sample(&self, batch: &[usize], group: usize, cfg: &SampleConfig) -> Result<Vec<Vec<i64>>> {
        let pixels: Vec<&Tensor> = batch.iter().map(|&i| &self.examples[i].pixels).collect();
        let px = self.encoder.pixel_batch(&pixels, self.device);
        let prompts: Vec<Vec<i64>> = batch
            .iter()
            .map(|&i| self.examples[i].prompt_ids.clone())
            .collect();
        generate(
            &self.model,
            &px,
            &prompts,
            group,
            cfg,
            self.encoder.stop_tokens(),
            true,
        )
    }

    fn completion_text(&self, ids: &[i64]) -> Result<String> {
        self.encoder.decode(ids)
    }

    fn answer_frame(&self, example: usize) -> Result<FrameMap> {
        self.encoder.frame(self.examples[example].original)
    }

    fn logprobs(
        &self,
        groups: &[GroupRows<'_>],
        reference: Option<&ReticleVlm>,
    ) -> Result<(Tensor, Tensor)> {
        let model: &dyn Policy = match reference {
            Some(r) => r,
            None => &self.model,
        };
        let pixels: Vec<&Tensor> = groups
            .iter()
            .map(|gr| &self.examples[gr.example].pixels)
            .collect();
        let px = self.encoder.pixel_batch(&pixels, self.device);
        // Each image is encoded once and repeated for its group's rows.
        let counts: Vec<i64> = groups
            .iter()
            .map(|gr| gr.completions.len() as i64)
            .collect();
        let feats = model.encode_images(&px).repeat_interleave_self_tensor(
            &Tensor::from_slice(&counts).to_device(self.device),
            0,
            None,
        );
        let prompts: Vec<Vec<i64>> = groups
            .iter()
            .flat_map(|gr| {
                std::iter::repeat_n(
                    self.examples[gr.example].prompt_ids.clone(),
                    gr.completions.len(),
                )
            })
            .collect();
        let comps: Vec<Vec<i64>> = groups
            .iter()
            .flat_map(|gr| gr.completions.iter().cloned())
            .collect();
        completion_logprobs(model, &feats, &prompts, &comps, self.encoder.stop_tokens())
    }

    fn reference(&self) -> Result<ReticleVlm> {
        crate::grpo::trainer::reference_model(self)
    }

    fn eval_set(&self) -> Result<Option<EvalSet>> {
        Session::eval_set(self)
    }

    fn end_of_step(
        &mut self,
        phase: &str,
        done: u64,
        total: u64,
        eval: Option<&EvalSet>,
    ) -> Result<()> {
        Session::end_of_step(self, phase, done, total, eval)
    }

    fn checkpoint(&self, step: u64, state: serde_json::Value) -> Result<PathBuf> {
        Session::checkpoint(self, step, state)
    }
}

/// Indices of the batch for `step`: consecutive slices of a per-epoch shuffle seeded by
/// `(seed, epoch)`, so a resumed run sees exactly the batches it would have seen.
pub fn batch_indices(n: usize, batch: usize, seed: u64, step: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut out = Vec::with_capacity(batch);
    let mut pos = step as usize * batch;
    while out.len() < batch {
        let epoch = pos / n;
        let mut perm: Vec<usize> = (0..n).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        perm.shuffle(&mut rng);
        let from = pos % n;
        let take = (batch - out.len()).min(n - from);
        out.extend_from_slice(&perm[from..from + take]);
        pos += take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_each_epoch_once_and_are_reproducible() {
        let n = 10;
        let mut seen: Vec<usize> = (0..5).flat_map(|s| batch_indices(n, 4, 7, s)).collect();
        assert_eq!(seen.len(), 20);
        let first_epoch: std::collections::BTreeSet<usize> = seen.drain(..10).collect();
        assert_eq!(first_epoch.len(), 10);
        assert_eq!(batch_indices(n, 4, 7, 3), batch_indices(n, 4, 7, 3));
        assert_ne!(batch_indices(n, 4, 7, 0), batch_indices(n, 4, 8, 0));
    }
}
