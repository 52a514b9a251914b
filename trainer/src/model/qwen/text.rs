//! The language model of Qwen2-VL / Qwen2.5-VL: a Qwen2 decoder (RMSNorm, grouped-query
//! attention with biased q/k/v and M-RoPE, SwiGLU MLP) as `Qwen2VLTextModel` /
//! `Qwen2_5_VLTextModel` in eager attention. Both families share it unchanged.

use std::sync::Arc;

use tch::{nn, Kind, Tensor};

use super::lora::{LoraAdapter, LoraConfig, LoraFlags};
use super::recompute::{self, Record, Tape};
use super::rope::{rotate_half, TextRotary};
use super::weights::Weights;
use crate::error::Result;
use crate::model::KvCache;
use reticle_models::qwen::config::TextConfig;

/// `weight · x / sqrt(mean(x²) + eps)`, computed in f32.
#[derive(Debug)]
pub(super) struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    pub(super) fn new(w: &Weights, name: &str, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: w.get(&format!("{name}.weight"))?,
            eps,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let h = x.to_kind(Kind::Float);
        let variance = h.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let h = h * (variance + self.eps).rsqrt();
        &self.weight * h.to_kind(kind)
    }
}

/// A linear layer by its Hugging Face name (`{name}.weight`, optional `{name}.bias`), with an
/// optional LoRA adapter.
#[derive(Debug)]
pub(super) struct Linear {
    name: String,
    weight: Tensor,
    bias: Option<Tensor>,
    lora: Option<LoraAdapter>,
}

impl Linear {
    pub(super) fn new(w: &Weights, name: &str, bias: bool) -> Result<Self> {
        Ok(Self {
            name: name.to_string(),
            weight: w.get(&format!("{name}.weight"))?,
            bias: if bias {
                Some(w.get(&format!("{name}.bias"))?)
            } else {
                None
            },
            lora: None,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        let y = x.linear(&self.weight, self.bias.as_ref());
        match &self.lora {
            Some(lora) if lora.enabled() => y + lora.forward(x),
            _ => y,
        }
    }

    /// `(`{name}.weight`, W + (α / r) B A)` when the layer has an adapter.
    pub(super) fn merged_weight(&self) -> Option<(String, Tensor)> {
        self.lora.as_ref().map(|l| {
            let merged = self.weight.to_kind(Kind::Float) + l.delta();
            (
                format!("{}.weight", self.name),
                merged.to_kind(self.weight.kind()),
            )
        })
    }

    /// Gives this layer an adapter in `vs` if `cfg` targets it; returns whether it did.
    pub(super) fn attach_lora(
        &mut self,
        vs: &nn::VarStore,
        cfg: &LoraConfig,
        vision: bool,
        flags: &Arc<LoraFlags>,
    ) -> Result<bool> {
        if !cfg.targets(&self.name, vision) {
            return Ok(false);
        }
        let size = self.weight.size();
        self.lora = Some(LoraAdapter::new(
            vs,
            &self.name,
            size[1],
            size[0],
            cfg,
            flags.clone(),
        )?);
        Ok(true)
    }
}

#[derive(Debug)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    n_heads: i64,
    n_kv_heads: i64,
    head_dim: i64,
}

impl Attention {
    fn new(w: &Weights, name: &str, cfg: &TextConfig) -> Result<Self> {
        Ok(Self {
            q_proj: Linear::new(w, &format!("{name}.q_proj"), true)?,
            k_proj: Linear::new(w, &format!("{name}.k_proj"), true)?,
            v_proj: Linear::new(w, &format!("{name}.v_proj"), true)?,
            o_proj: Linear::new(w, &format!("{name}.o_proj"), false)?,
            n_heads: cfg.num_attention_heads as i64,
            n_kv_heads: cfg.num_key_value_heads as i64,
            head_dim: cfg.head_dim() as i64,
        })
    }

    /// `x [B, T, H]`; `cos`/`sin [B, T, head_dim]`; `mask [T, past + T]` additive or `None`.
    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> Tensor {
        let (b, t) = (x.size()[0], x.size()[1]);
        let heads = |y: Tensor| y.view([b, t, -1, self.head_dim]).transpose(1, 2);
        let q = heads(self.q_proj.forward(x));
        let k = heads(self.k_proj.forward(x));
        let v = heads(self.v_proj.forward(x));
        let (cos, sin) = (cos.unsqueeze(1), sin.unsqueeze(1));
        let q = &q * &cos + rotate_half(&q) * &sin;
        let k = &k * &cos + rotate_half(&k) * &sin;
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(&[pk, k], 2), Tensor::cat(&[pv, v], 2)),
                    None => (k, v),
                };
                *slot = Some((k.shallow_clone(), v.shallow_clone()));
                (k, v)
            }
            None => (k, v),
        };
        // `repeat_kv`: each key/value head serves `n_heads / n_kv_heads` query heads.
        let rep = self.n_heads / self.n_kv_heads;
        let repeat = |y: &Tensor| {
            if rep == 1 {
                return y.shallow_clone();
            }
            let s = y.size();
            y.unsqueeze(2)
                .expand([s[0], s[1], rep, s[2], s[3]], false)
                .reshape([s[0], s[1] * rep, s[2], s[3]])
        };
        let (k, v) = (repeat(&k), repeat(&v));
        let scaling = (self.head_dim as f64).powf(-0.5);
        let scores = q.matmul(&k.transpose(2, 3)) * scaling;
        let scores = match mask {
            Some(mask) => scores + mask,
            None => scores,
        };
        let probs = scores.softmax(-1, Kind::Float).to_kind(q.kind());
        let out = probs
            .matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .reshape([b, t, -1]);
        self.o_proj.forward(&out)
    }
}

/// `down(act(gate(x)) · up(x))`; the vision blocks of Qwen2.5-VL use it with biases.
#[derive(Debug)]
pub(super) struct GatedMlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    act: super::Activation,
}

impl GatedMlp {
    pub(super) fn new(w: &Weights, name: &str, bias: bool, act: super::Activation) -> Result<Self> {
        Ok(Self {
            gate_proj: Linear::new(w, &format!("{name}.gate_proj"), bias)?,
            up_proj: Linear::new(w, &format!("{name}.up_proj"), bias)?,
            down_proj: Linear::new(w, &format!("{name}.down_proj"), bias)?,
            act,
        })
    }

    pub(super) fn linears_mut(&mut self) -> [&mut Linear; 3] {
        [&mut self.gate_proj, &mut self.up_proj, &mut self.down_proj]
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        self.down_proj
            .forward(&(self.act.apply(&self.gate_proj.forward(x)) * self.up_proj.forward(x)))
    }
}

#[derive(Debug)]
struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: GatedMlp,
}

/// The decoder: embeddings, layers, final norm (the LM head lives in [`super::QwenVl`]).
#[derive(Debug)]
pub(super) struct TextModel {
    pub(super) embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    rotary: TextRotary,
}

impl TextModel {
    /// `prefix` is `model` (published names: `model.layers.0…`).
    pub(super) fn new(w: &Weights, prefix: &str, cfg: &TextConfig) -> Result<Self> {
        let act = super::Activation::parse(&cfg.hidden_act, "text_config.hidden_act")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = format!("{prefix}.layers.{i}");
                Ok(DecoderLayer {
                    input_layernorm: RmsNorm::new(
                        w,
                        &format!("{p}.input_layernorm"),
                        cfg.rms_norm_eps,
                    )?,
                    self_attn: Attention::new(w, &format!("{p}.self_attn"), cfg)?,
                    post_attention_layernorm: RmsNorm::new(
                        w,
                        &format!("{p}.post_attention_layernorm"),
                        cfg.rms_norm_eps,
                    )?,
                    mlp: GatedMlp::new(w, &format!("{p}.mlp"), false, act)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed_tokens: w.get(&format!("{prefix}.embed_tokens.weight"))?,
            layers,
            norm: RmsNorm::new(w, &format!("{prefix}.norm"), cfg.rms_norm_eps)?,
            rotary: TextRotary::new(
                cfg.head_dim(),
                cfg.rope_theta,
                &cfg.mrope_section,
                w.device(),
            ),
        })
    }

    /// Every linear map of the layers (attention and MLP), for adapters.
    pub(super) fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let mut out = Vec::new();
        for layer in &mut self.layers {
            let a = &mut layer.self_attn;
            out.extend([&mut a.q_proj, &mut a.k_proj, &mut a.v_proj, &mut a.o_proj]);
            out.extend(layer.mlp.linears_mut());
        }
        out
    }

    pub(super) fn n_layers(&self) -> usize {
        self.layers.len()
    }

    /// Decoder layer `i` on `h`: attention then MLP, each with its residual.
    fn layer(
        &self,
        i: usize,
        h: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        slot: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> Tensor {
        let layer = &self.layers[i];
        let a = layer
            .self_attn
            .forward(&layer.input_layernorm.forward(h), cos, sin, mask, slot);
        let h = h + a;
        &h + layer
            .mlp
            .forward(&layer.post_attention_layernorm.forward(&h))
    }

    /// `embeds [B, T, H]`, `positions [3, B, T]` → normalised hidden states `[B, T, H]`.
    /// With a cache, the new keys and values are appended and attention covers the cached
    /// positions too; the mask is causal within the new tokens. With a `tape` (gradient
    /// checkpointing) and gradients on, only each layer's input is kept (see
    /// [`super::recompute`]); [`TextModel::backward`] then replays the layers.
    pub(super) fn forward(
        &self,
        embeds: &Tensor,
        positions: &Tensor,
        mut cache: Option<&mut KvCache>,
        tape: Option<&Tape>,
    ) -> Tensor {
        let t = embeds.size()[1];
        let past = cache.as_ref().map_or(0, |c| c.len());
        let mask = (t > 1).then(|| {
            // Query i (at past + i) sees keys 0..=past + i: an additive mask of −inf above.
            Tensor::full(
                [t, past + t],
                f64::NEG_INFINITY,
                (Kind::Float, embeds.device()),
            )
            .triu(past + 1)
        });
        let (cos, sin) = self.rotary.cos_sin(positions);
        // As transformers: the angles in the activations' precision.
        let (cos, sin) = (cos.to_kind(embeds.kind()), sin.to_kind(embeds.kind()));
        if let (Some(tape), None) = (tape, cache.as_ref()) {
            if recompute::grad_enabled() {
                return self.forward_checkpointed(embeds, cos, sin, mask, tape);
            }
        }
        let mut h = embeds.shallow_clone();
        for i in 0..self.layers.len() {
            let slot = cache.as_deref_mut().and_then(|c| c.layers.get_mut(i));
            h = self.layer(i, &h, &cos, &sin, mask.as_ref(), slot);
        }
        self.norm.forward(&h)
    }

    fn forward_checkpointed(
        &self,
        embeds: &Tensor,
        cos: Tensor,
        sin: Tensor,
        mask: Option<Tensor>,
        tape: &Tape,
    ) -> Tensor {
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut h = embeds.shallow_clone();
        for i in 0..self.layers.len() {
            let x = h.detach().set_requires_grad(true);
            let seed = recompute::draw_seed();
            tch::manual_seed(seed);
            h = tch::no_grad(|| self.layer(i, &x, &cos, &sin, mask.as_ref(), None));
            inputs.push((x, seed));
        }
        let last = h.detach().set_requires_grad(true);
        let out = self.norm.forward(&last);
        tape.push(Record {
            embeds: embeds.shallow_clone(),
            inputs,
            last,
            cos,
            sin,
            mask,
        });
        out
    }

    /// The backward pass of the checkpointed forwards on `tape` (after `loss.backward()`).
    pub(super) fn backward(&self, tape: &Tape) {
        tape.backward(|i, x, rec| self.layer(i, x, &rec.cos, &rec.sin, rec.mask.as_ref(), None));
    }
}
