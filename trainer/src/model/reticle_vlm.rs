//! ReticleVLM: a small vision-language model for grounding, written with tch.
//!
//! - **Vision encoder**: a patch-embedding convolution (stride = patch size) plus learned
//!   position embeddings, then pre-norm transformer blocks (bidirectional attention, SwiGLU).
//! - **Projector**: a two-layer MLP (SiLU) from the vision width to the decoder width.
//! - **Decoder**: a Llama/Qwen2-style decoder-only language model — RMSNorm, rotary position
//!   embeddings, grouped-query attention with a KV cache, SwiGLU — over
//!   `[image tokens][prompt tokens][answer tokens]`.
//!
//! Only standard operations are used so that the ONNX export can write the same graph.
//! Variable names are the ONNX initializer names (`model.layers.0.self_attn.q_proj.weight`,
//! `vision.blocks.1.mlp.up_proj.weight`, …).

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::{KvCache, Policy};
use crate::error::{Error, Result};

/// Sizes of a ReticleVLM. Presets: [`VlmConfig::micro`], [`VlmConfig::small`], [`VlmConfig::base`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VlmConfig {
    /// Model input image size.
    pub image_width: u32,
    pub image_height: u32,
    /// 3 (RGB) or 4 (RGB-D).
    pub channels: usize,
    pub patch_size: u32,
    pub vision_hidden: usize,
    pub vision_layers: usize,
    pub vision_heads: usize,
    pub vision_intermediate: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub intermediate_size: usize,
    /// Set from the tokenizer when a run starts.
    pub vocab_size: usize,
    /// Longest sequence (image + prompt + answer).
    pub max_positions: usize,
    pub rope_theta: f64,
    pub rms_norm_eps: f64,
}

impl VlmConfig {
    /// Seconds-scale model for tests.
    pub fn micro() -> Self {
        Self {
            image_width: 64,
            image_height: 40,
            channels: 3,
            patch_size: 8,
            vision_hidden: 32,
            vision_layers: 1,
            vision_heads: 2,
            vision_intermediate: 64,
            hidden_size: 48,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            intermediate_size: 96,
            vocab_size: 512,
            max_positions: 192,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
        }
    }

    /// Trains on a CPU: 256×160 input, 160 image tokens, ~5M parameters.
    pub fn small() -> Self {
        Self {
            image_width: 256,
            image_height: 160,
            channels: 3,
            patch_size: 16,
            vision_hidden: 192,
            vision_layers: 4,
            vision_heads: 6,
            vision_intermediate: 512,
            hidden_size: 256,
            num_layers: 4,
            num_heads: 8,
            num_kv_heads: 4,
            intermediate_size: 688,
            vocab_size: 1024,
            max_positions: 512,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
        }
    }

    /// For GPUs: 448×280 input, 640 image tokens.
    pub fn base() -> Self {
        Self {
            image_width: 448,
            image_height: 280,
            channels: 3,
            patch_size: 14,
            vision_hidden: 384,
            vision_layers: 8,
            vision_heads: 6,
            vision_intermediate: 1536,
            hidden_size: 512,
            num_layers: 8,
            num_heads: 8,
            num_kv_heads: 4,
            intermediate_size: 1408,
            vocab_size: 2048,
            max_positions: 1024,
            rope_theta: 10_000.0,
            rms_norm_eps: 1e-6,
        }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "micro" => Ok(Self::micro()),
            "small" => Ok(Self::small()),
            "base" => Ok(Self::base()),
            other => Err(Error::Config(format!(
                "unknown model size `{other}` (expected micro, small or base)"
            ))),
        }
    }

    pub fn grid(&self) -> (i64, i64) {
        (
            i64::from(self.image_height / self.patch_size),
            i64::from(self.image_width / self.patch_size),
        )
    }

    pub fn num_image_tokens(&self) -> usize {
        let (h, w) = self.grid();
        (h * w) as usize
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }

    /// Checks that the sizes fit together.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(Error::Config(m));
        if self.channels != 3 && self.channels != 4 {
            return err(format!("channels must be 3 or 4, not {}", self.channels));
        }
        if self.patch_size == 0
            || self.image_width % self.patch_size != 0
            || self.image_height % self.patch_size != 0
        {
            return err(format!(
                "image {}x{} must be a multiple of patch_size {}",
                self.image_width, self.image_height, self.patch_size
            ));
        }
        if self.vision_heads == 0 || self.vision_hidden % self.vision_heads != 0 {
            return err("vision_hidden must be divisible by vision_heads".into());
        }
        if self.num_heads == 0 || self.hidden_size % self.num_heads != 0 {
            return err("hidden_size must be divisible by num_heads".into());
        }
        if self.head_dim() % 2 != 0 {
            return err(
                "head_dim (hidden_size / num_heads) must be even for rotary embeddings".into(),
            );
        }
        if self.num_kv_heads == 0 || self.num_heads % self.num_kv_heads != 0 {
            return err("num_heads must be a multiple of num_kv_heads".into());
        }
        if self.num_image_tokens() >= self.max_positions {
            return err(format!(
                "{} image tokens leave no room in max_positions {}",
                self.num_image_tokens(),
                self.max_positions
            ));
        }
        if self.vocab_size < 16 {
            return err(format!("vocab_size {} is too small", self.vocab_size));
        }
        Ok(())
    }
}

/// Large negative used for masked attention scores. Finite, so that a row with every key
/// masked (a padding query) gives a uniform softmax instead of NaN.
pub const MASK_VALUE: f64 = -1e9;

#[derive(Debug)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(p: nn::Path, dim: usize, eps: f64) -> Self {
        Self {
            weight: p.var("weight", &[dim as i64], nn::Init::Const(1.0)),
            eps,
        }
    }
}

impl Module for RmsNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let var = x.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        x * (var + self.eps).rsqrt() * &self.weight
    }
}

fn linear(p: nn::Path, i: usize, o: usize) -> nn::Linear {
    nn::linear(
        p,
        i as i64,
        o as i64,
        nn::LinearConfig {
            bias: false,
            ..Default::default()
        },
    )
}

#[derive(Debug)]
struct SwiGlu {
    gate_proj: nn::Linear,
    up_proj: nn::Linear,
    down_proj: nn::Linear,
}

impl SwiGlu {
    fn new(p: nn::Path, dim: usize, hidden: usize) -> Self {
        Self {
            gate_proj: linear(&p / "gate_proj", dim, hidden),
            up_proj: linear(&p / "up_proj", dim, hidden),
            down_proj: linear(&p / "down_proj", hidden, dim),
        }
    }
}

impl Module for SwiGlu {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.down_proj
            .forward(&(self.gate_proj.forward(x).silu() * self.up_proj.forward(x)))
    }
}

/// Bidirectional multi-head attention of the vision encoder.
#[derive(Debug)]
struct VisionAttention {
    q_proj: nn::Linear,
    k_proj: nn::Linear,
    v_proj: nn::Linear,
    o_proj: nn::Linear,
    heads: i64,
}

impl VisionAttention {
    fn new(p: nn::Path, dim: usize, heads: usize) -> Self {
        Self {
            q_proj: linear(&p / "q_proj", dim, dim),
            k_proj: linear(&p / "k_proj", dim, dim),
            v_proj: linear(&p / "v_proj", dim, dim),
            o_proj: linear(&p / "o_proj", dim, dim),
            heads: heads as i64,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, n, d) = x.size3().unwrap_or((0, 0, 0));
        let hd = d / self.heads;
        let split = |t: Tensor| t.view([b, n, self.heads, hd]).transpose(1, 2);
        let q = split(self.q_proj.forward(x));
        let k = split(self.k_proj.forward(x));
        let v = split(self.v_proj.forward(x));
        let att = (q.matmul(&k.transpose(-2, -1)) / (hd as f64).sqrt()).softmax(-1, Kind::Float);
        let y = att.matmul(&v).transpose(1, 2).reshape([b, n, d]);
        self.o_proj.forward(&y)
    }
}

#[derive(Debug)]
struct VisionBlock {
    norm1: RmsNorm,
    attn: VisionAttention,
    norm2: RmsNorm,
    mlp: SwiGlu,
}

impl VisionBlock {
    fn new(p: nn::Path, cfg: &VlmConfig) -> Self {
        Self {
            norm1: RmsNorm::new(&p / "norm1", cfg.vision_hidden, cfg.rms_norm_eps),
            attn: VisionAttention::new(&p / "attn", cfg.vision_hidden, cfg.vision_heads),
            norm2: RmsNorm::new(&p / "norm2", cfg.vision_hidden, cfg.rms_norm_eps),
            mlp: SwiGlu::new(&p / "mlp", cfg.vision_hidden, cfg.vision_intermediate),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = x + self.attn.forward(&self.norm1.forward(x));
        &x + self.mlp.forward(&self.norm2.forward(&x))
    }
}

/// The 2-D sine-cosine position code of a `rows × cols` patch grid, `[rows*cols, dim]`
/// (row-major, like the patch tokens): the first half of the channels encodes the column, the
/// second half the row, each as `sin`/`cos` pairs at geometric frequencies (MAE's scheme).
fn sincos_2d(rows: i64, cols: i64, dim: i64) -> Tensor {
    let half = dim / 2;
    let quarter = (half / 2).max(1);
    let mut out = vec![0f32; (rows * cols * dim) as usize];
    for r in 0..rows {
        for c in 0..cols {
            let row =
                &mut out[((r * cols + c) * dim) as usize..((r * cols + c + 1) * dim) as usize];
            for (offset, pos) in [(0, c), (half, r)] {
                for k in 0..quarter {
                    let omega = 1.0 / 10_000f64.powf(k as f64 / quarter as f64);
                    let a = pos as f64 * omega;
                    if let Some(v) = row.get_mut((offset + k) as usize) {
                        *v = a.sin() as f32;
                    }
                    if let Some(v) = row.get_mut((offset + quarter + k) as usize) {
                        *v = a.cos() as f32;
                    }
                }
            }
        }
    }
    Tensor::from_slice(&out).view([rows * cols, dim])
}

#[derive(Debug)]
struct VisionEncoder {
    patch_embed: nn::Conv2D,
    pos_embed: Tensor,
    blocks: Vec<VisionBlock>,
    norm: RmsNorm,
}

impl VisionEncoder {
    fn new(p: nn::Path, cfg: &VlmConfig) -> Self {
        let patch = i64::from(cfg.patch_size);
        let patch_embed = nn::conv2d(
            &p / "patch_embed",
            cfg.channels as i64,
            cfg.vision_hidden as i64,
            patch,
            nn::ConvConfig {
                stride: patch,
                ..Default::default()
            },
        );
        // Learned, but started from a fixed 2-D sine-cosine code of each patch's column and
        // row: the decoder must turn "which patch" into coordinate digits, and with a small
        // random start a from-scratch policy learns to answer from the instruction's wording
        // alone (measured: the same point for every image) long before it learns where
        // patches are.
        let (rows, cols) = cfg.grid();
        let pos_embed = p.var_copy(
            "pos_embed",
            &sincos_2d(rows, cols, cfg.vision_hidden as i64).to_device(p.device()),
        );
        let blocks = (0..cfg.vision_layers)
            .map(|i| VisionBlock::new(&p / "blocks" / i, cfg))
            .collect();
        Self {
            patch_embed,
            pos_embed,
            blocks,
            norm: RmsNorm::new(&p / "norm", cfg.vision_hidden, cfg.rms_norm_eps),
        }
    }

    fn forward(&self, pixel_values: &Tensor) -> Tensor {
        // [B, D, h, w] → [B, h*w, D], row-major over the patch grid.
        let x = self
            .patch_embed
            .forward(pixel_values)
            .flatten(2, 3)
            .transpose(1, 2);
        let mut x = x + &self.pos_embed;
        for b in &self.blocks {
            x = b.forward(&x);
        }
        self.norm.forward(&x)
    }
}

#[derive(Debug)]
struct Projector {
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Module for Projector {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.fc2.forward(&self.fc1.forward(x).silu())
    }
}

/// Rotary embeddings, computed from position ids (so left padding works).
#[derive(Debug)]
struct Rotary {
    inv_freq: Tensor,
}

impl Rotary {
    fn new(head_dim: usize, theta: f64, device: Device) -> Self {
        let half = head_dim / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64) as f32)
            .collect();
        Self {
            inv_freq: Tensor::from_slice(&inv).to_device(device),
        }
    }

    /// `cos`, `sin` of shape `[B, 1, T, head_dim]` for `position_ids [B, T]`.
    fn cos_sin(&self, position_ids: &Tensor) -> (Tensor, Tensor) {
        let freqs = position_ids.to_kind(Kind::Float).unsqueeze(-1) * &self.inv_freq;
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(1);
        (emb.cos(), emb.sin())
    }
}

/// `x * cos + rotate_half(x) * sin` (the Llama/Qwen convention: halves, not interleaved).
fn apply_rotary(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size()[3] / 2;
    let x1 = x.narrow(3, 0, half);
    let x2 = x.narrow(3, half, half);
    let rotated = Tensor::cat(&[&(-&x2), &x1], 3);
    x * cos + rotated * sin
}

#[derive(Debug)]
struct Attention {
    q_proj: nn::Linear,
    k_proj: nn::Linear,
    v_proj: nn::Linear,
    o_proj: nn::Linear,
    heads: i64,
    kv_heads: i64,
    head_dim: i64,
}

impl Attention {
    fn new(p: nn::Path, cfg: &VlmConfig) -> Self {
        let hd = cfg.head_dim();
        Self {
            q_proj: linear(&p / "q_proj", cfg.hidden_size, cfg.num_heads * hd),
            k_proj: linear(&p / "k_proj", cfg.hidden_size, cfg.num_kv_heads * hd),
            v_proj: linear(&p / "v_proj", cfg.hidden_size, cfg.num_kv_heads * hd),
            o_proj: linear(&p / "o_proj", cfg.num_heads * hd, cfg.hidden_size),
            heads: cfg.num_heads as i64,
            kv_heads: cfg.num_kv_heads as i64,
            head_dim: hd as i64,
        }
    }

    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        bias: &Tensor,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> Tensor {
        let (b, t, _) = x.size3().unwrap_or((0, 0, 0));
        let q = self
            .q_proj
            .forward(x)
            .view([b, t, self.heads, self.head_dim])
            .transpose(1, 2);
        let k = self
            .k_proj
            .forward(x)
            .view([b, t, self.kv_heads, self.head_dim])
            .transpose(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .view([b, t, self.kv_heads, self.head_dim])
            .transpose(1, 2);
        let q = apply_rotary(&q, cos, sin);
        let k = apply_rotary(&k, cos, sin);
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2), Tensor::cat(&[&pv, &v], 2)),
                    None => (k, v),
                };
                *slot = Some((k.shallow_clone(), v.shallow_clone()));
                (k, v)
            }
            None => (k, v),
        };
        // Grouped-query attention: each kv head serves heads / kv_heads query heads.
        let rep = self.heads / self.kv_heads;
        let (k, v) = if rep > 1 {
            (
                k.repeat_interleave_self_int(rep, 1, None),
                v.repeat_interleave_self_int(rep, 1, None),
            )
        } else {
            (k, v)
        };
        let scores = q.matmul(&k.transpose(-2, -1)) / (self.head_dim as f64).sqrt() + bias;
        let y = scores
            .softmax(-1, Kind::Float)
            .matmul(&v)
            .transpose(1, 2)
            .reshape([b, t, self.heads * self.head_dim]);
        self.o_proj.forward(&y)
    }
}

#[derive(Debug)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: SwiGlu,
}

/// The model. Build with [`ReticleVlm::new`]; all weights live in its `VarStore`.
#[derive(Debug)]
pub struct ReticleVlm {
    cfg: VlmConfig,
    vs: nn::VarStore,
    vision: VisionEncoder,
    projector: Projector,
    embed_tokens: nn::Embedding,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    lm_head: nn::Linear,
    rotary: Rotary,
}

impl ReticleVlm {
    /// A freshly initialised model on `device`.
    pub fn new(cfg: &VlmConfig, device: Device) -> Result<Self> {
        cfg.validate()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let vision = VisionEncoder::new(&root / "vision", cfg);
        let pp = &root / "projector";
        let projector = Projector {
            fc1: linear(&pp / "fc1", cfg.vision_hidden, cfg.hidden_size),
            fc2: linear(&pp / "fc2", cfg.hidden_size, cfg.hidden_size),
        };
        let mp = &root / "model";
        let embed_tokens = nn::embedding(
            &mp / "embed_tokens",
            cfg.vocab_size as i64,
            cfg.hidden_size as i64,
            nn::EmbeddingConfig {
                ws_init: nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
                ..Default::default()
            },
        );
        let layers = (0..cfg.num_layers)
            .map(|i| {
                let lp = &mp / "layers" / i;
                DecoderLayer {
                    input_layernorm: RmsNorm::new(
                        &lp / "input_layernorm",
                        cfg.hidden_size,
                        cfg.rms_norm_eps,
                    ),
                    self_attn: Attention::new(&lp / "self_attn", cfg),
                    post_attention_layernorm: RmsNorm::new(
                        &lp / "post_attention_layernorm",
                        cfg.hidden_size,
                        cfg.rms_norm_eps,
                    ),
                    mlp: SwiGlu::new(&lp / "mlp", cfg.hidden_size, cfg.intermediate_size),
                }
            })
            .collect();
        let norm = RmsNorm::new(&mp / "norm", cfg.hidden_size, cfg.rms_norm_eps);
        let lm_head = linear(&root / "lm_head", cfg.hidden_size, cfg.vocab_size);
        let rotary = Rotary::new(cfg.head_dim(), cfg.rope_theta, device);
        Ok(Self {
            cfg: cfg.clone(),
            vs,
            vision,
            projector,
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary,
        })
    }

    pub fn config(&self) -> &VlmConfig {
        &self.cfg
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }
}

/// Additive attention bias `[B, 1, T, past + T]`: 0 where query `i` may attend key `j`
/// (key not padding and `j <= past + i`), [`MASK_VALUE`] elsewhere.
pub fn attention_bias(attention_mask: &Tensor, q_len: i64) -> Tensor {
    let total = attention_mask.size()[1];
    let past = total - q_len;
    let device = attention_mask.device();
    let q_pos = Tensor::arange_start(past, total, (Kind::Int64, device)).unsqueeze(1);
    let k_pos = Tensor::arange(total, (Kind::Int64, device)).unsqueeze(0);
    let causal = k_pos.le_tensor(&q_pos); // [T, total]
    let keys = attention_mask.gt(0).unsqueeze(1).unsqueeze(1); // [B, 1, 1, total]
    let allowed = causal.unsqueeze(0).unsqueeze(0).logical_and(&keys);
    Tensor::zeros([1], (Kind::Float, device)).where_self(
        &allowed,
        &Tensor::full([1], MASK_VALUE, (Kind::Float, device)),
    )
}

impl Policy for ReticleVlm {
    fn encode_images(&self, pixel_values: &Tensor) -> Tensor {
        self.projector.forward(&self.vision.forward(pixel_values))
    }

    fn embed_tokens(&self, input_ids: &Tensor) -> Tensor {
        self.embed_tokens.forward(input_ids)
    }

    fn decode(
        &self,
        inputs_embeds: &Tensor,
        attention_mask: &Tensor,
        position_ids: &Tensor,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor {
        let q_len = inputs_embeds.size()[1];
        let bias = attention_bias(attention_mask, q_len);
        let (cos, sin) = self.rotary.cos_sin(position_ids);
        let mut x = inputs_embeds.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().and_then(|c| c.layers.get_mut(i));
            let h = layer.self_attn.forward(
                &layer.input_layernorm.forward(&x),
                &cos,
                &sin,
                &bias,
                slot,
            );
            // Not `x += h`: on the first layer `x` aliases the caller's `inputs_embeds`.
            x = &x + h;
            x = &x
                + layer
                    .mlp
                    .forward(&layer.post_attention_layernorm.forward(&x));
        }
        self.lm_head.forward(&self.norm.forward(&x))
    }

    fn new_cache(&self) -> KvCache {
        KvCache::new(self.cfg.num_layers)
    }

    fn num_image_tokens(&self) -> usize {
        self.cfg.num_image_tokens()
    }

    fn input_shape(&self) -> (u32, u32, usize) {
        (
            self.cfg.image_width,
            self.cfg.image_height,
            self.cfg.channels,
        )
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        f64::try_from((a - b).abs().max()).unwrap()
    }

    #[test]
    fn sincos_position_code_tells_every_patch_apart() {
        let (rows, cols, dim) = (3, 4, 16);
        let code = sincos_2d(rows, cols, dim);
        assert_eq!(code.size(), [rows * cols, dim]);
        let v: Vec<f32> = Vec::try_from(code.flatten(0, 1)).unwrap();
        assert!(v.iter().all(|x| x.abs() <= 1.0));
        // Patch (0, 0): every sine is 0 and every cosine 1.
        assert!(v[..4].iter().all(|x| *x == 0.0) && v[4..8].iter().all(|x| *x == 1.0));
        // Row-major: patch 5 is row 1, column 1; its column half equals patch 1's.
        let at = |i: usize| &v[i * dim as usize..(i + 1) * dim as usize];
        assert_eq!(&at(5)[..8], &at(1)[..8]);
        assert_eq!(&at(5)[8..], &at(4)[8..]);
        for i in 0..12 {
            for j in 0..i {
                assert_ne!(at(i), at(j), "patches {i} and {j} share a code");
            }
        }
    }

    #[test]
    fn weight_names_follow_the_onnx_layout() {
        let m = ReticleVlm::new(&VlmConfig::micro(), Device::Cpu).unwrap();
        let names: Vec<String> = m.var_store().variables().into_keys().collect();
        for want in [
            "vision.patch_embed.weight",
            "vision.pos_embed",
            "vision.blocks.0.attn.q_proj.weight",
            "projector.fc1.weight",
            "model.embed_tokens.weight",
            "model.layers.1.self_attn.k_proj.weight",
            "model.layers.0.mlp.gate_proj.weight",
            "model.norm.weight",
            "lm_head.weight",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "missing {want} in {names:?}"
            );
        }
    }

    #[test]
    fn kv_cache_matches_full_recomputation() {
        tch::manual_seed(0);
        let cfg = VlmConfig::micro();
        let m = ReticleVlm::new(&cfg, Device::Cpu).unwrap();
        let b = 2;
        let px = Tensor::randn([b, 3, 40, 64], (Kind::Float, Device::Cpu));
        let img = m.encode_images(&px);
        let ids = Tensor::randint(cfg.vocab_size as i64, [b, 7], (Kind::Int64, Device::Cpu));
        let text = m.embed_tokens(&ids);
        let seq = Tensor::cat(&[&img, &text], 1);
        let total = seq.size()[1];
        // Row 1 is left-padded by two positions.
        let mask = Tensor::ones([b, total], (Kind::Int64, Device::Cpu));
        let _ = mask.get(1).narrow(0, 0, 2).fill_(0);
        let pos = (mask.cumsum(1, Kind::Int64) - 1).clamp_min(0);
        let full = tch::no_grad(|| m.decode(&seq, &mask, &pos, None));
        // Prefill all but the last 3 positions, then feed them one at a time.
        let mut cache = m.new_cache();
        let pre = total - 3;
        let mut outs = vec![tch::no_grad(|| {
            m.decode(
                &seq.narrow(1, 0, pre),
                &mask.narrow(1, 0, pre),
                &pos.narrow(1, 0, pre),
                Some(&mut cache),
            )
        })];
        for t in pre..total {
            outs.push(tch::no_grad(|| {
                m.decode(
                    &seq.narrow(1, t, 1),
                    &mask.narrow(1, 0, t + 1),
                    &pos.narrow(1, t, 1),
                    Some(&mut cache),
                )
            }));
        }
        assert_eq!(cache.len(), total);
        let inc = Tensor::cat(&outs, 1);
        // Padding queries attend to nothing, so their (unused) outputs depend on how many
        // keys exist; compare real positions only.
        let real = mask.unsqueeze(-1).to_kind(Kind::Float);
        let diff = max_abs_diff(&(&inc * &real), &(&full * &real));
        assert!(diff < 1e-4, "incremental vs full logits differ by {diff}");
    }

    #[test]
    fn config_validation_names_the_problem() {
        let mut c = VlmConfig::micro();
        c.image_width = 65;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("multiple of patch_size"));
        let mut c = VlmConfig::micro();
        c.num_kv_heads = 3;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("num_kv_heads"));
        assert!(VlmConfig::preset("huge").is_err());
        for p in ["micro", "small", "base"] {
            VlmConfig::preset(p).unwrap().validate().unwrap();
        }
    }
}
