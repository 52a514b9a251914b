//! The one seam between the training loops and a policy that writes text answers.
//!
//! `sft::run_sft` and `grpo::trainer::{run_grpo, grpo_step}` are written once against
//! [`Trainee`]; each model family implements it beside its session: `session::Session`
//! (ReticleVLM: fixed-size images, image tokens before a left-padded prompt, 1-row positions)
//! and `qwen::QwenSession` (a Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint with LoRA:
//! images at their own resolution, the chat template, 3-row M-RoPE positions). The family owns
//! its image preprocessing, sequence layout and position scheme; the loops own batching by
//! step, sampling groups, rewards (`rewards::score`), the GRPO objective (`grpo::loss`),
//! optimiser steps, metrics and checkpoint cadence.

use std::path::PathBuf;

use reticle_models::dataset::Record;
use reticle_models::geometry::FrameMap;
use tch::{Device, Tensor};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::generate::SampleConfig;
use crate::metrics_log::MetricsLog;
use crate::optim::AdamW;

/// The completions of one prompt in a GRPO batch: the example's index and its rows.
#[derive(Debug, Clone, Copy)]
pub struct GroupRows<'a> {
    pub example: usize,
    pub completions: &'a [Vec<i64>],
}

/// What the SFT and GRPO loops need from a run of one model family.
pub trait Trainee {
    /// The policy GRPO's KL term compares with (a frozen copy, or the base model under
    /// adapters).
    type Reference;
    /// Held-out data evaluated by [`Trainee::end_of_step`].
    type Eval;

    fn cfg(&self) -> &TrainConfig;
    /// The first step to run (0, or the resumed checkpoint's step).
    fn start_step(&self) -> u64;
    /// The training records; example `i` is record `i`.
    fn records(&self) -> &[Record];
    fn device(&self) -> Device;
    /// Whether forward passes run under libtorch autocast.
    fn autocast(&self) -> bool;
    fn optim_mut(&mut self) -> &mut AdamW;
    fn log_mut(&mut self) -> &mut MetricsLog;

    /// The mean negative log-likelihood per token of the reference completions of `batch`,
    /// differentiable through the trained parameters.
    fn sft_loss(&self, batch: &[usize]) -> Result<Tensor>;
    /// `group` sampled completions of each example of `batch`, grouped by example.
    fn sample(&self, batch: &[usize], group: usize, cfg: &SampleConfig) -> Result<Vec<Vec<i64>>>;
    /// The answer text of completion tokens (what `rewards::score` reads).
    fn completion_text(&self, ids: &[i64]) -> Result<String>;
    /// The map between the example's answer frame and its original pixels.
    fn answer_frame(&self, example: usize) -> Result<FrameMap>;
    /// Per-token log-probabilities `(logp [N, T], mask [N, T])` of every row of `groups` in
    /// order, under the trained policy or, with `reference`, under the reference.
    fn logprobs(
        &self,
        groups: &[GroupRows<'_>],
        reference: Option<&Self::Reference>,
    ) -> Result<(Tensor, Tensor)>;
    /// The reference for GRPO's KL term (saved with the run where it is a copy).
    fn reference(&self) -> Result<Self::Reference>;
    /// Back-propagates a loss built by [`Trainee::sft_loss`] or [`Trainee::logprobs`] into
    /// the trained parameters (a model with gradient checkpointing recomputes its layers
    /// here).
    fn backward(&self, loss: &Tensor) {
        loss.backward();
    }

    /// The held-out set of `[data] eval`, if any.
    fn eval_set(&self) -> Result<Option<Self::Eval>>;
    /// Checkpoint and evaluate when due after step `done` of `total`.
    fn end_of_step(
        &mut self,
        phase: &str,
        done: u64,
        total: u64,
        eval: Option<&Self::Eval>,
    ) -> Result<()>;
    /// Saves a checkpoint of the trained parameters and the optimiser at `step`.
    fn checkpoint(&self, step: u64, state: serde_json::Value) -> Result<PathBuf>;
}
