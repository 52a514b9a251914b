//! Policies: vision-language models. [`Policy`] is what ReticleVLM's run, evaluation and
//! export talk to ([`reticle_vlm::ReticleVlm`], a small model written with tch, fixed-size
//! images and 1-row positions). [`pointer::PointerNet`] has its own run; [`qwen::QwenVl`]
//! (Hugging Face Qwen2-VL / Qwen2.5-VL, images at their own resolution, 3-row M-RoPE) is
//! trained through `trainee::Trainee`, the training loops' seam, rather than this trait.

pub mod pointer;
pub mod qwen;
pub mod reticle_vlm;

use tch::{nn, Tensor};

pub use pointer::{PointerConfig, PointerNet};
pub use qwen::QwenVl;
pub use reticle_vlm::{ReticleVlm, VlmConfig};

/// Per-layer key/value tensors `[batch, kv_heads, seq, head_dim]` of the decoder.
#[derive(Debug, Default)]
pub struct KvCache {
    pub layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache for `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: (0..n_layers).map(|_| None).collect(),
        }
    }

    /// Number of cached positions (0 when empty).
    pub fn len(&self) -> i64 {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |(k, _)| k.size()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the rows in `index` (a 1-D int64 tensor), e.g. to repeat prompts G times.
    pub fn index_select(&self, index: &Tensor) -> Self {
        Self {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    l.as_ref()
                        .map(|(k, v)| (k.index_select(0, index), v.index_select(0, index)))
                })
                .collect(),
        }
    }
}

/// What the training loops and the exporter need from a model.
pub trait Policy {
    /// `pixel_values [B, C, H, W]` (normalised) → `image_features [B, N, hidden]`.
    fn encode_images(&self, pixel_values: &Tensor) -> Tensor;
    /// `input_ids [B, T]` (int64) → `inputs_embeds [B, T, hidden]`.
    fn embed_tokens(&self, input_ids: &Tensor) -> Tensor;
    /// Runs the decoder over `inputs_embeds [B, T, hidden]` with `attention_mask
    /// [B, past + T]` (1 = attend) and `position_ids [B, T]`, appending to `cache` when given.
    /// Returns `logits [B, T, vocab]`.
    fn decode(
        &self,
        inputs_embeds: &Tensor,
        attention_mask: &Tensor,
        position_ids: &Tensor,
        cache: Option<&mut KvCache>,
    ) -> Tensor;
    /// An empty KV cache of the right depth.
    fn new_cache(&self) -> KvCache;
    /// Image tokens per image.
    fn num_image_tokens(&self) -> usize;
    /// Input image size `(width, height)` and channel count.
    fn input_shape(&self) -> (u32, u32, usize);
    /// The variables (weights), named as the exported ONNX initializers.
    fn var_store(&self) -> &nn::VarStore;
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
}
