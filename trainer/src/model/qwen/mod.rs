//! Qwen2-VL and Qwen2.5-VL from Hugging Face checkpoints, in tch: `QwenVl` computes what
//! `Qwen2VLForConditionalGeneration` / `Qwen2_5_VLForConditionalGeneration` of `transformers`
//! 5.24 compute (eager attention, f32), checked for logits and greedy-generation parity in
//! `trainer/tests/qwen`.
//!
//! - [`weights`]: the tensor names and shapes each family needs, loading a
//!   [`CheckpointDir`] into a `VarStore` named as the checkpoint (bf16 / f16 / f32 → f32);
//! - `vision`: the two vision towers and the patch merger;
//! - `text`: the M-RoPE decoder;
//! - [`rope`]: `get_rope_index` (3-row positions) and both rotary embeddings;
//! - [`lora`]: LoRA adapters on the decoder's (optionally the vision blocks') linear maps,
//!   the base frozen.
//!
//! One sequence at a time: `input_ids` with runs of `<|image_pad|>` (as the processor expands
//! them), `pixel_values` / `image_grid_thw` of the images in order.

mod recompute;
mod text;
mod vision;

pub mod lora;
pub mod rope;
pub mod weights;

pub use vision::VISION_NORM_EPS;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tch::{nn, Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::generate::{sample_next, SampleConfig};
use crate::model::KvCache;
use lora::{LoraConfig, LoraFlags};
use reticle_models::qwen::{CheckpointDir, QwenConfig};
use rope::{rope_index, MropePositions};

/// The activation functions these checkpoints name (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Silu,
    QuickGelu,
    Gelu,
    GeluTanh,
}

impl Activation {
    pub fn parse(name: &str, field: &str) -> Result<Self> {
        Ok(match name {
            "silu" | "swish" => Activation::Silu,
            "quick_gelu" => Activation::QuickGelu,
            "gelu" => Activation::Gelu,
            "gelu_pytorch_tanh" | "gelu_new" => Activation::GeluTanh,
            other => {
                return Err(Error::Config(format!(
                    "{field} `{other}` is not supported (silu, quick_gelu, gelu, gelu_pytorch_tanh)"
                )))
            }
        })
    }

    fn apply(&self, x: &Tensor) -> Tensor {
        match self {
            Activation::Silu => x.silu(),
            // transformers' QuickGELUActivation.
            Activation::QuickGelu => x * (x * 1.702).sigmoid(),
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
        }
    }
}

/// The images of one prompt: `pixel_values [n_patches, C·T·P·P]` as the processor writes
/// them and one `[t, h, w]` grid (in patches) per image.
#[derive(Debug, Clone, Copy)]
pub struct QwenImages<'a> {
    pub pixel_values: &'a Tensor,
    pub grid_thw: &'a [[i64; 3]],
}

/// The prompt's logits and what continuing it needs.
#[derive(Debug)]
pub struct Prefill {
    /// `[1, T, vocab]`.
    pub logits: Tensor,
    /// The 3-row positions of the prompt (`delta` places generated tokens).
    pub positions: MropePositions,
}

/// A Qwen2-VL or Qwen2.5-VL model loaded from a checkpoint folder.
#[derive(Debug)]
pub struct QwenVl {
    config: QwenConfig,
    vs: nn::VarStore,
    visual: vision::VisionTower,
    text: text::TextModel,
    /// `lm_head.weight`, or the embeddings when they are tied.
    lm_head: Tensor,
    /// The adapters' variables and config, once [`QwenVl::add_lora`] ran.
    lora: Option<(nn::VarStore, LoraConfig)>,
    /// Training mode (adapter dropout on) and the adapters' on/off switch, shared with them.
    flags: Arc<LoraFlags>,
    /// Gradient checkpointing: the decoder's checkpointed forward passes (see
    /// [`QwenVl::set_gradient_checkpointing`]).
    tape: Option<recompute::Tape>,
    /// Rows of the completion head computed at a time under gradient checkpointing.
    head_chunk_rows: i64,
}

impl QwenVl {
    /// Loads `ckpt` onto `device` in f32. Every tensor is checked by name and shape first.
    pub fn load(ckpt: &CheckpointDir, device: Device) -> Result<Self> {
        Self::load_as(ckpt, device, Kind::Float)
    }

    /// Loads `ckpt` onto `device` with its weights in `dtype` (f32, bf16 or f16): the frozen
    /// base in half precision halves its memory; activations follow the weights, norms and
    /// softmaxes compute in f32, and LoRA adapters stay f32 (their inputs and outputs are
    /// cast at the boundary).
    pub fn load_as(ckpt: &CheckpointDir, device: Device, dtype: Kind) -> Result<Self> {
        if !matches!(dtype, Kind::Float | Kind::BFloat16 | Kind::Half) {
            return Err(Error::Config(format!(
                "qwen weights can be f32, bf16 or f16, not {dtype:?}"
            )));
        }
        let config = ckpt.config.clone();
        let mut vs = nn::VarStore::new(device);
        // New variables take the store's kind.
        vs.set_kind(dtype);
        weights::load(&vs, ckpt, dtype)?;
        let w = weights::Weights::new(&vs);
        let text = text::TextModel::new(&w, weights::TEXT_PREFIX, &config.text)?;
        let visual =
            vision::VisionTower::new(&w, weights::VISION_PREFIX, &config.vision, config.family)?;
        let lm_head = if config.tie_word_embeddings {
            text.embed_tokens.shallow_clone()
        } else {
            w.get("lm_head.weight")?
        };
        tracing::info!(
            family = config.family.model_type(),
            layers = config.text.num_hidden_layers,
            vision_depth = config.vision.depth,
            tied = config.tie_word_embeddings,
            "qwen model ready"
        );
        Ok(Self {
            config,
            vs,
            visual,
            text,
            lm_head,
            lora: None,
            flags: Arc::new(LoraFlags::default()),
            tape: None,
            head_chunk_rows: 256,
        })
    }

    /// Adds LoRA adapters (initialised from tch's global seed) to the linear maps `cfg`
    /// targets and freezes every base weight. Returns the number of adapted layers.
    pub fn add_lora(&mut self, cfg: &LoraConfig) -> Result<usize> {
        cfg.validate()?;
        if self.lora.is_some() {
            return Err(Error::Config("this model already has LoRA adapters".into()));
        }
        let vs = nn::VarStore::new(self.device());
        let mut n = 0;
        for linear in self.text.linears_mut() {
            n += usize::from(linear.attach_lora(&vs, cfg, false, &self.flags)?);
        }
        for linear in self.visual.linears_mut() {
            n += usize::from(linear.attach_lora(&vs, cfg, true, &self.flags)?);
        }
        if n == 0 {
            return Err(Error::Config(format!(
                "lora: target_modules {:?} match no layer",
                cfg.target_modules
            )));
        }
        self.vs.freeze();
        tracing::info!(
            layers = n,
            rank = cfg.rank,
            parameters = vs
                .trainable_variables()
                .iter()
                .map(Tensor::numel)
                .sum::<usize>(),
            "lora adapters added; base weights frozen"
        );
        self.lora = Some((vs, cfg.clone()));
        Ok(n)
    }

    /// Every weight as the deployed model uses it, named as in the checkpoint: the base
    /// tensors with each adapter merged into its linear map (`W + (α / r) B A`), so that a
    /// forward pass over them equals this model's with its adapters on (and dropout off).
    pub fn merged_variables(&mut self) -> std::collections::HashMap<String, Tensor> {
        let mut vars = self.vs.variables();
        let merged: Vec<(String, Tensor)> = tch::no_grad(|| {
            self.text
                .linears_mut()
                .into_iter()
                .chain(self.visual.linears_mut())
                .filter_map(|l| l.merged_weight())
                .collect()
        });
        vars.extend(merged);
        vars
    }

    /// The adapters' variables (`….lora_A.weight`, `….lora_B.weight`), if any.
    pub fn lora_var_store(&self) -> Option<&nn::VarStore> {
        self.lora.as_ref().map(|(vs, _)| vs)
    }

    /// Gradient checkpointing on or off: with it, a forward pass under gradients keeps only
    /// each decoder layer's input and [`QwenVl::backward`] recomputes the layers.
    pub fn set_gradient_checkpointing(&mut self, on: bool) {
        self.tape = on.then(recompute::Tape::default);
    }

    /// Under gradient checkpointing, the completion log-probabilities are computed `rows` at
    /// a time (default 256): the head's `rows × vocabulary` logits exist for one chunk only.
    pub fn set_logprob_chunk_rows(&mut self, rows: usize) {
        self.head_chunk_rows = rows.max(1) as i64;
    }

    /// Back-propagates `loss` into the trainable parameters: `loss.backward()`, then, with
    /// gradient checkpointing, the replay of the chunked head and of the decoder layers.
    /// Checkpointed passes that `loss` did not use (a skipped non-finite loss) are dropped
    /// here too.
    pub fn backward(&self, loss: &Tensor) {
        loss.backward();
        if let Some(tape) = &self.tape {
            tape.backward_heads(|h, ids| self.head_logprobs(h, ids));
            self.text.backward(tape);
        }
    }

    /// Checkpointed forward passes waiting for [`QwenVl::backward`].
    pub fn pending_backward(&self) -> usize {
        self.tape.as_ref().map_or(0, recompute::Tape::pending)
    }

    /// Training mode turns the adapters' dropout on.
    pub fn set_training(&self, training: bool) {
        self.flags.training.store(training, Ordering::Relaxed);
    }

    /// Switches the adapters off (`false`: forward passes compute the base model, GRPO's
    /// reference for the KL, with no second copy of the weights) or back on.
    pub fn set_adapters_enabled(&self, enabled: bool) {
        self.flags.disabled.store(!enabled, Ordering::Relaxed);
    }

    /// The adapters' variables, mutable (to load a checkpoint into them).
    pub fn lora_var_store_mut(&mut self) -> Option<&mut nn::VarStore> {
        self.lora.as_mut().map(|(vs, _)| vs)
    }

    /// The vocabulary ids of the vision tokens (`<|vision_start|>`, `<|image_pad|>`, …), which
    /// a completion never contains: sampling leaves them out.
    pub fn vision_token_ids(&self) -> Vec<i64> {
        let t = &self.config.tokens;
        [
            t.image_token_id,
            t.video_token_id,
            t.vision_start_token_id,
            t.vision_end_token_id,
        ]
        .map(i64::from)
        .to_vec()
    }

    /// Per-token log-probabilities of several `completions` of one prompt, batched: returns
    /// `(logp [G, T], mask [G, T])`, differentiable through the adapters. The completions are
    /// right-padded with `pad` (the causal mask keeps padding out of every real token's
    /// context) and continue the prompt's positions as generation does.
    pub fn completion_logprobs(
        &self,
        prompt_ids: &[i64],
        images: Option<QwenImages<'_>>,
        completions: &[Vec<i64>],
        pad: i64,
    ) -> Result<(Tensor, Tensor)> {
        if prompt_ids.is_empty() || completions.is_empty() {
            return Err(Error::Config("empty prompt or no completion".into()));
        }
        let device = self.device();
        let (c_ids, c_mask) = crate::generate::pad_completions(completions, pad, device);
        let (g, t) = (c_ids.size()[0], c_ids.size()[1]);
        let p = prompt_ids.len() as i64;
        let grids = images.map_or(&[][..], |i| i.grid_thw);
        let positions = rope_index(
            prompt_ids,
            i64::from(self.config.tokens.image_token_id),
            grids,
            self.config.vision.spatial_merge_size as i64,
        )?;
        // Completion token j sits at p + j + delta in all three rows.
        let tail = Tensor::arange(t, (Kind::Int64, device)) + (p + positions.delta);
        let pos = Tensor::cat(
            &[
                rope::positions_tensor(&positions, device).expand([3, g, p], false),
                tail.view([1, 1, t]).expand([3, g, t], false),
            ],
            2,
        );
        let prompt = self.embed(prompt_ids, images)?;
        let vocab = self.config.text.vocab_size as i64;
        if completions
            .iter()
            .flatten()
            .any(|&id| id < 0 || id >= vocab)
        {
            return Err(Error::Config(format!(
                "a completion token is outside the vocabulary of {vocab}"
            )));
        }
        let comp = self
            .text
            .embed_tokens
            .index_select(0, &c_ids.view([-1]))
            .view([g, t, -1]);
        let embeds = Tensor::cat(&[prompt.expand([g, p, -1], false), comp], 1);
        let hidden = self.text.forward(&embeds, &pos, None, self.tape.as_ref());
        // The token at position s is predicted at s − 1; the head runs on those rows only.
        let rows = hidden.narrow(1, p - 1, t).reshape([g * t, -1]);
        let logp = recompute::chunked_logprobs(
            self.tape.as_ref(),
            &rows,
            &c_ids.view([-1]),
            self.head_chunk_rows,
            |h, ids| self.head_logprobs(h, ids),
        )
        .view([g, t]);
        Ok((logp * &c_mask, c_mask))
    }

    /// `rows [n, H]`, `ids [n]` → the log-probability of each row's token `[n]` (f32).
    fn head_logprobs(&self, rows: &Tensor, ids: &Tensor) -> Tensor {
        rows.linear::<Tensor>(&self.lm_head, None)
            .log_softmax(-1, Kind::Float)
            .gather(1, &ids.unsqueeze(-1), false)
            .squeeze_dim(-1)
    }

    /// `group` sampled completions of one prompt with the KV cache: one prefill, then the
    /// cache repeated `group` times and one batched step per token. A row ends after one of
    /// `stop_ids` (included) or at `cfg.max_new_tokens`; vision tokens are never sampled.
    pub fn sample(
        &self,
        prompt_ids: &[i64],
        images: Option<QwenImages<'_>>,
        group: usize,
        cfg: &SampleConfig,
        stop_ids: &[i64],
    ) -> Result<Vec<Vec<i64>>> {
        cfg.validate()?;
        if group == 0 {
            return Err(Error::Config("sampling needs a group of at least 1".into()));
        }
        tch::no_grad(|| {
            let device = self.device();
            let mut cache = self.new_cache();
            let prefill = self.prefill(prompt_ids, images, Some(&mut cache))?;
            let delta = prefill.positions.delta;
            let rows = Tensor::zeros([group as i64], (Kind::Int64, device));
            let mut cache = cache.index_select(&rows);
            let banned = Tensor::from_slice(&self.vision_token_ids()).to_device(device);
            let mut logits = prefill.logits.select(1, -1).index_select(0, &rows);
            let mut out: Vec<Vec<i64>> = vec![Vec::new(); group];
            let mut done = vec![false; group];
            for _ in 0..cfg.max_new_tokens {
                let allowed = logits.index_fill(-1, &banned, f64::NEG_INFINITY);
                let next = sample_next(&allowed, cfg);
                let tokens: Vec<i64> = Vec::<i64>::try_from(&next)?;
                for (i, &tok) in tokens.iter().enumerate() {
                    if !done[i] {
                        out[i].push(tok);
                        done[i] = stop_ids.contains(&tok);
                    }
                }
                if done.iter().all(|&d| d) {
                    break;
                }
                // Finished rows keep stepping (their tokens are dropped): one batch shape.
                let embeds = self
                    .text
                    .embed_tokens
                    .index_select(0, &next.to_kind(Kind::Int64))
                    .unsqueeze(1);
                let position = cache.len() + delta;
                let positions = Tensor::full([3, group as i64, 1], position, (Kind::Int64, device));
                let hidden = self
                    .text
                    .forward(&embeds, &positions, Some(&mut cache), None);
                logits = hidden.linear::<Tensor>(&self.lm_head, None).select(1, 0);
            }
            Ok(out)
        })
    }

    /// The mean negative log-likelihood of `completion` after the prompt (teacher forcing):
    /// the SFT loss of one example.
    pub fn completion_nll(
        &self,
        prompt_ids: &[i64],
        images: Option<QwenImages<'_>>,
        completion: &[i64],
    ) -> Result<Tensor> {
        if prompt_ids.is_empty() || completion.is_empty() {
            return Err(Error::Config("empty prompt or completion".into()));
        }
        let ids: Vec<i64> = prompt_ids.iter().chain(completion).copied().collect();
        let logits = self.forward(&ids, images)?;
        let (p, c) = (prompt_ids.len() as i64, completion.len() as i64);
        let logp = logits.narrow(1, p - 1, c).log_softmax(-1, Kind::Float);
        let targets = Tensor::from_slice(completion)
            .to_device(self.device())
            .view([1, c, 1]);
        Ok(-logp.gather(2, &targets, false).mean(Kind::Float))
    }

    pub fn config(&self) -> &QwenConfig {
        &self.config
    }

    /// The weights, named as in the checkpoint (`model.layers.0.self_attn.q_proj.weight`,
    /// `visual.blocks.0.attn.qkv.weight`, `lm_head.weight`, …).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// An empty KV cache for the decoder.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.text.n_layers())
    }

    /// The vision tower: `[n_patches / merge², hidden]`, one row per `<|image_pad|>`.
    pub fn encode_images(&self, images: QwenImages<'_>) -> Result<Tensor> {
        self.visual.forward(
            &images.pixel_values.to_device(self.device()),
            images.grid_thw,
        )
    }

    /// Token embeddings with the image features scattered over the `<|image_pad|>` tokens.
    fn embed(&self, input_ids: &[i64], images: Option<QwenImages<'_>>) -> Result<Tensor> {
        let vocab = self.config.text.vocab_size as i64;
        if let Some(bad) = input_ids.iter().find(|&&id| id < 0 || id >= vocab) {
            return Err(Error::Config(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let ids = Tensor::from_slice(input_ids).to_device(self.device());
        let embeds = self.text.embed_tokens.index_select(0, &ids);
        let image_id = i64::from(self.config.tokens.image_token_id);
        let n_pads = input_ids.iter().filter(|&&id| id == image_id).count() as i64;
        let embeds = match images {
            Some(images) => {
                let features = self.encode_images(images)?;
                if features.size()[0] != n_pads {
                    return Err(Error::Config(format!(
                        "{n_pads} image tokens in the prompt but the images give {} features",
                        features.size()[0]
                    )));
                }
                let mask = ids.eq(image_id).unsqueeze(-1).expand_as(&embeds);
                embeds.masked_scatter(&mask, &features)
            }
            None if n_pads > 0 => {
                return Err(Error::Config(format!(
                    "{n_pads} image tokens in the prompt but no image given"
                )))
            }
            None => embeds,
        };
        Ok(embeds.unsqueeze(0))
    }

    /// The prompt through the whole model: logits `[1, T, vocab]` and its positions.
    /// With `cache`, the decoder's keys and values are kept for [`QwenVl::step`].
    pub fn prefill(
        &self,
        input_ids: &[i64],
        images: Option<QwenImages<'_>>,
        cache: Option<&mut KvCache>,
    ) -> Result<Prefill> {
        if input_ids.is_empty() {
            return Err(Error::Config("empty prompt".into()));
        }
        let grids = images.map_or(&[][..], |i| i.grid_thw);
        let positions = rope_index(
            input_ids,
            i64::from(self.config.tokens.image_token_id),
            grids,
            self.config.vision.spatial_merge_size as i64,
        )?;
        let embeds = self.embed(input_ids, images)?;
        let hidden = self.text.forward(
            &embeds,
            &rope::positions_tensor(&positions, self.device()),
            cache,
            self.tape.as_ref(),
        );
        Ok(Prefill {
            logits: hidden.linear::<Tensor>(&self.lm_head, None),
            positions,
        })
    }

    /// Logits `[1, T, vocab]` of a prompt (no cache).
    pub fn forward(&self, input_ids: &[i64], images: Option<QwenImages<'_>>) -> Result<Tensor> {
        Ok(self.prefill(input_ids, images, None)?.logits)
    }

    /// One generated token after the cached ones: logits `[1, vocab]`. Its position is
    /// `cache length + delta` in all three rows, as `transformers` continues them.
    pub fn step(&self, token: i64, delta: i64, cache: &mut KvCache) -> Result<Tensor> {
        let embeds = self.embed(&[token], None)?;
        let position = cache.len() + delta;
        let positions = Tensor::from_slice(&[position; 3])
            .view([3, 1, 1])
            .to_device(self.device());
        let hidden = self.text.forward(&embeds, &positions, Some(cache), None);
        Ok(hidden.linear::<Tensor>(&self.lm_head, None).select(1, 0))
    }

    /// Greedy decoding with the KV cache: up to `max_new_tokens` tokens, stopping after one
    /// of `eos_ids`. Returns the new tokens only.
    pub fn generate_greedy(
        &self,
        input_ids: &[i64],
        images: Option<QwenImages<'_>>,
        max_new_tokens: usize,
        eos_ids: &[i64],
    ) -> Result<Vec<i64>> {
        tch::no_grad(|| {
            let mut cache = self.new_cache();
            let prefill = self.prefill(input_ids, images, Some(&mut cache))?;
            let delta = prefill.positions.delta;
            let mut logits = prefill.logits.select(1, -1);
            let mut out = Vec::with_capacity(max_new_tokens);
            for _ in 0..max_new_tokens {
                let next = logits
                    .argmax(-1, false)
                    .to_kind(Kind::Int64)
                    .int64_value(&[0]);
                out.push(next);
                if eos_ids.contains(&next) || out.len() == max_new_tokens {
                    break;
                }
                logits = self.step(next, delta, &mut cache)?;
            }
            Ok(out)
        })
    }
}
