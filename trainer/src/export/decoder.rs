//! The token-embedding and KV-cache decoder graphs every text-writing architecture shares
//! (ReticleVLM, Qwen2-VL / Qwen2.5-VL): a Llama/Qwen2-style decoder — RMSNorm, grouped-query
//! attention with rotary positions, SwiGLU — described by a [`DecoderLayout`]. The layouts
//! differ in the q/k/v biases (taken when the model has them), the LM head's variable, and
//! the position scheme: linear `position_ids [B, T]`, or M-RoPE `position_ids [3, B, T]` whose
//! frequency chunks (`mrope_section`) take their angle from the temporal, row or column row.

use std::collections::HashMap;

use reticle_models::manifest::PositionScheme;
use tch::Tensor;

use super::onnx_builder::{attr_int, model, Dim, Elem};
use super::ops::{Act, Ctx};
use super::proto::{tensor_proto::DataType, ModelProto};
use crate::error::{Error, Result};

/// Symbolic dimension names shared by the graphs (the onnx-community convention).
pub const BATCH: &str = "batch_size";
pub const SEQ: &str = "sequence_length";
pub const PAST: &str = "past_sequence_length";
pub const TOTAL: &str = "total_sequence_length";

/// Additive attention bias where a key is hidden (padding, or after the query).
pub const MASK_VALUE: f32 = -1e9;

/// The shape and conventions of one decoder.
#[derive(Debug, Clone)]
pub struct DecoderLayout {
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub vocab: usize,
    pub rms_eps: f64,
    /// The rotary inverse frequencies (`head_dim / 2` values), as the tch model computes them.
    pub inv_freq: Vec<f32>,
    /// Linear positions, or M-RoPE with the chunk sizes of `mrope_section` (summing to
    /// `head_dim / 2`).
    pub positions: Positions,
    /// The variable prefix of the LM head (`lm_head`, or `model.embed_tokens` when tied).
    pub lm_head: String,
    /// Write the logits of the last position only (`[B, 1, vocab]`): all that decoding
    /// reads, and a prefill over an image's tokens × a 150k vocabulary would otherwise
    /// write hundreds of megabytes.
    pub last_logits_only: bool,
    /// Quantise the linear maps (attention, MLP, LM head) for `MatMulNBits`; `None`: f32.
    pub quant: Option<super::quant::Quant>,
}

/// How `position_ids` become rotary angles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Positions {
    Linear,
    Mrope { section: Vec<usize> },
}

impl Positions {
    pub fn scheme(&self) -> PositionScheme {
        match self {
            Positions::Linear => PositionScheme::Linear,
            Positions::Mrope { .. } => PositionScheme::Mrope,
        }
    }
}

fn fixed(n: usize) -> Dim {
    Dim::Fixed(n as i64)
}

/// `embed_tokens.onnx`: `input_ids [B, T]` → `inputs_embeds [B, T, hidden]` from the table
/// `model.embed_tokens.weight`.
pub fn embed_tokens(vars: &HashMap<String, Tensor>, hidden: usize) -> Result<ModelProto> {
    let mut c = Ctx::new("embed_tokens", vars, 0.0);
    let ids =
        c.g.input("input_ids", Elem::I64, &[Dim::Sym(BATCH), Dim::Sym(SEQ)])?;
    let table = c.weight("model.embed_tokens.weight")?;
    let out =
        c.g.node("Gather", &[&table, &ids], vec![attr_int("axis", 0)])?;
    c.g.output(
        "inputs_embeds",
        &out,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Sym(SEQ), fixed(hidden)],
    )?;
    Ok(model(
        c.g.finish(),
        "token embeddings: input_ids [B, T] -> inputs_embeds [B, T, hidden]",
    ))
}

/// Rotary `(cos, sin)`, each `[B, 1, T, hd]`, from `position_ids`.
fn rotary(c: &mut Ctx, layout: &DecoderLayout, pos_ids: &str) -> Result<(String, String)> {
    let half = layout.head_dim / 2;
    if layout.inv_freq.len() != half {
        return Err(Error::Export {
            path: "model".into(),
            message: format!(
                "{} rotary frequencies for head_dim {}",
                layout.inv_freq.len(),
                layout.head_dim
            ),
        });
    }
    let inv =
        c.g.const_f32("inv_freq", &[half as i64], &layout.inv_freq)?;
    let pos_f = c.g.node(
        "Cast",
        &[pos_ids],
        vec![attr_int("to", DataType::Float as i64)],
    )?;
    let axis_last = c.g.ints("axes", &[-1])?;
    let pos_f = c.op("Unsqueeze", &[&pos_f, &axis_last])?;
    // Linear: [B, T, 1] → freqs [B, T, hd/2]; M-RoPE: [3, B, T, 1] → [3, B, T, hd/2].
    let freqs = c.op("Mul", &[&pos_f, &inv])?;
    let (cos, sin) = match &layout.positions {
        Positions::Linear => (c.op("Cos", &[&freqs])?, c.op("Sin", &[&freqs])?),
        Positions::Mrope { section } => {
            if section.iter().sum::<usize>() != half {
                return Err(Error::Export {
                    path: "model".into(),
                    message: format!("mrope_section {section:?} does not sum to {half}"),
                });
            }
            // Frequency j takes row (chunk of j) % 3: a one-hot [3, 1, 1, hd/2] selector,
            // multiplied in and summed over the rows (adding exact zeros).
            let mut select = vec![0f32; 3 * half];
            let mut j = 0;
            for (chunk, &len) in section.iter().enumerate() {
                for _ in 0..len {
                    select[(chunk % 3) * half + j] = 1.0;
                    j += 1;
                }
            }
            let select =
                c.g.const_f32("mrope_select", &[3, 1, 1, half as i64], &select)?;
            let cos = c.op("Cos", &[&freqs])?;
            let sin = c.op("Sin", &[&freqs])?;
            let axis0 = c.g.ints("axes", &[0])?;
            let mut pick = |x: &str| -> Result<String> {
                let y = c.op("Mul", &[x, &select])?;
                c.g.node("ReduceSum", &[&y, &axis0], vec![attr_int("keepdims", 0)])
            };
            (pick(&cos)?, pick(&sin)?)
        }
    };
    let axis1 = c.g.ints("axes", &[1])?;
    let mut full = |x: &str| -> Result<String> {
        let x = c.g.node("Concat", &[x, x], vec![attr_int("axis", -1)])?;
        c.op("Unsqueeze", &[&x, &axis1]) // [B, 1, T, hd]
    };
    Ok((full(&cos)?, full(&sin)?))
}

/// `decoder_model_merged.onnx`: one decoder step or prefill with a KV cache.
///
/// Inputs `inputs_embeds [B, T, hidden]`, `attention_mask [B, past + T]` (int64, 1 = attend),
/// `position_ids` (`[B, T]`, or `[3, B, T]` for M-RoPE; int64),
/// `past_key_values.{i}.key/value [B, kv_heads, past, hd]` (past may be 0); outputs
/// `logits [B, T, vocab]` (`[B, 1, vocab]` with `last_logits_only`) and `present.{i}.key/value [B, kv_heads, past + T, hd]`.
pub fn decoder(vars: &HashMap<String, Tensor>, layout: &DecoderLayout) -> Result<ModelProto> {
    let mut c = Ctx::new("decoder_model_merged", vars, layout.rms_eps);
    c.quant = layout.quant;
    let heads = layout.heads as i64;
    let kv_heads = layout.kv_heads as i64;
    let hd = layout.head_dim as i64;
    let embeds = c.g.input(
        "inputs_embeds",
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Sym(SEQ), fixed(layout.hidden)],
    )?;
    let mask = c.g.input(
        "attention_mask",
        Elem::I64,
        &[Dim::Sym(BATCH), Dim::Sym(TOTAL)],
    )?;
    let pos_dims: &[Dim] = match layout.positions {
        Positions::Linear => &[Dim::Sym(BATCH), Dim::Sym(SEQ)],
        Positions::Mrope { .. } => &[Dim::Fixed(3), Dim::Sym(BATCH), Dim::Sym(SEQ)],
    };
    let pos_ids = c.g.input("position_ids", Elem::I64, pos_dims)?;
    let kv_dims = |len: &'static str| {
        [
            Dim::Sym(BATCH),
            Dim::Fixed(kv_heads),
            Dim::Sym(len),
            Dim::Fixed(hd),
        ]
    };
    let mut past = Vec::with_capacity(layout.layers);
    for i in 0..layout.layers {
        let k = c.g.input(
            &format!("past_key_values.{i}.key"),
            Elem::F32,
            &kv_dims(PAST),
        )?;
        let v = c.g.input(
            &format!("past_key_values.{i}.value"),
            Elem::F32,
            &kv_dims(PAST),
        )?;
        past.push((k, v));
    }

    // Attention bias [B, 1, T, total]: 0 where key j is not padding and j <= past + i,
    // MASK_VALUE elsewhere. `past` is total − T, from the mask.
    let mask_shape = c.op("Shape", &[&mask])?;
    let embeds_shape = c.op("Shape", &[&embeds])?;
    let one_idx = c.g.const_i64("idx1", &[], &[1])?;
    let total = c.g.node(
        "Gather",
        &[&mask_shape, &one_idx],
        vec![attr_int("axis", 0)],
    )?;
    let q_len = c.g.node(
        "Gather",
        &[&embeds_shape, &one_idx],
        vec![attr_int("axis", 0)],
    )?;
    let past_len = c.op("Sub", &[&total, &q_len])?;
    let zero = c.g.const_i64("zero", &[], &[0])?;
    let step = c.g.const_i64("one", &[], &[1])?;
    let q_pos = c.op("Range", &[&past_len, &total, &step])?;
    let axis1 = c.g.ints("axes", &[1])?;
    let q_pos = c.op("Unsqueeze", &[&q_pos, &axis1])?; // [T, 1]
    let k_pos = c.op("Range", &[&zero, &total, &step])?;
    let axis0 = c.g.ints("axes", &[0])?;
    let k_pos = c.op("Unsqueeze", &[&k_pos, &axis0])?; // [1, total]
    let causal = c.op("LessOrEqual", &[&k_pos, &q_pos])?; // [T, total]
    let keys = c.op("Greater", &[&mask, &zero])?; // [B, total]
    let axes12 = c.g.ints("axes", &[1, 2])?;
    let keys = c.op("Unsqueeze", &[&keys, &axes12])?; // [B, 1, 1, total]
    let allowed = c.op("And", &[&causal, &keys])?; // [B, 1, T, total]
    let open = c.g.scalar_f32("bias_open", 0.0)?;
    let closed = c.g.scalar_f32("mask_value", MASK_VALUE)?;
    let bias = c.op("Where", &[&allowed, &open, &closed])?;

    let (cos, sin) = rotary(&mut c, layout, &pos_ids)?;

    // Grouped-query attention: repeat_interleave of kv heads along axis 1, as
    // [B, kv, S, hd] → [B, kv, 1, S, hd] → expand [B, kv, rep, S, hd] → [B, heads, S, hd].
    let rep = heads / kv_heads;
    let rep_shape = c.g.ints("rep_shape", &[1, 1, rep, 1, 1])?;
    let rep_target = c.g.ints("rep_target", &[0, heads, -1, hd])?;
    let axis2 = c.g.ints("axes", &[2])?;
    let repeat_kv = |c: &mut Ctx, x: &str| -> Result<String> {
        if rep == 1 {
            return Ok(x.to_string());
        }
        let u = c.op("Unsqueeze", &[x, &axis2])?;
        let e = c.op("Expand", &[&u, &rep_shape])?;
        c.op("Reshape", &[&e, &rep_target])
    };

    let mut x = embeds.clone();
    let mut presents = Vec::with_capacity(layout.layers);
    for (i, (past_k, past_v)) in past.iter().enumerate() {
        let pre = format!("model.layers.{i}");
        let h = c.rms_norm(&x, &format!("{pre}.input_layernorm"))?;
        let q = c.linear(&h, &format!("{pre}.self_attn.q_proj"))?;
        let k = c.linear(&h, &format!("{pre}.self_attn.k_proj"))?;
        let v = c.linear(&h, &format!("{pre}.self_attn.v_proj"))?;
        let q = c.split_heads(&q, heads, hd)?;
        let k = c.split_heads(&k, kv_heads, hd)?;
        let v = c.split_heads(&v, kv_heads, hd)?;
        let q = c.rope(&q, &cos, &sin, hd, 3)?;
        let k = c.rope(&k, &cos, &sin, hd, 3)?;
        let k =
            c.g.node("Concat", &[past_k, &k], vec![attr_int("axis", 2)])?;
        let v =
            c.g.node("Concat", &[past_v, &v], vec![attr_int("axis", 2)])?;
        presents.push((k.clone(), v.clone()));
        let kr = repeat_kv(&mut c, &k)?;
        let vr = repeat_kv(&mut c, &v)?;
        let y = c.attend(&q, &kr, &vr, hd, 4, Some(&bias))?;
        let y = c.merge_heads(&y, heads * hd)?;
        let y = c.linear(&y, &format!("{pre}.self_attn.o_proj"))?;
        x = c.op("Add", &[&x, &y])?;
        let h = c.rms_norm(&x, &format!("{pre}.post_attention_layernorm"))?;
        let y = c.gated_mlp(&h, &format!("{pre}.mlp"), Act::Silu)?;
        x = c.op("Add", &[&x, &y])?;
    }
    let x = if layout.last_logits_only {
        let start = c.g.ints("last", &[-1])?;
        let end = c.g.ints("end", &[i64::MAX])?;
        let axis = c.g.ints("seq_axis", &[1])?;
        c.op("Slice", &[&x, &start, &end, &axis])?
    } else {
        x
    };
    let x = c.rms_norm(&x, "model.norm")?;
    let logits = c.linear(&x, &layout.lm_head)?;
    let rows = if layout.last_logits_only {
        Dim::Fixed(1)
    } else {
        Dim::Sym(SEQ)
    };
    c.g.output(
        "logits",
        &logits,
        Elem::F32,
        &[Dim::Sym(BATCH), rows, fixed(layout.vocab)],
    )?;
    for (i, (k, v)) in presents.iter().enumerate() {
        c.g.output(&format!("present.{i}.key"), k, Elem::F32, &kv_dims(TOTAL))?;
        c.g.output(&format!("present.{i}.value"), v, Elem::F32, &kv_dims(TOTAL))?;
    }
    Ok(model(
        c.g.finish(),
        "decoder with KV cache: inputs_embeds, attention_mask, position_ids, \
         past_key_values.N.key/value -> logits, present.N.key/value",
    ))
}
