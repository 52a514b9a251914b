//! The three ONNX graphs of a [`ReticleVlm`], written op by op to mirror its tch forward
//! passes (`model/reticle_vlm.rs`): the same weights under the same names, the same
//! operation order, and the same constants (RMSNorm epsilon, rotary frequencies, the finite
//! attention mask value), so that ONNX Runtime reproduces tch to float32 rounding.
//!
//! Linear weights keep their tch layout `[out, in]` (the initializer equals the variable) and
//! are multiplied through a `Transpose`, which ONNX Runtime folds into a constant on load.

use std::collections::{HashMap, HashSet};

use tch::Tensor;

use super::onnx_builder::{attr_int, attr_ints, model, Dim, Elem, GraphBuilder};
use super::proto::{tensor_proto::DataType, ModelProto};
use crate::error::{Error, Result};
use crate::model::reticle_vlm::MASK_VALUE;
use crate::model::{Policy, ReticleVlm, VlmConfig};

/// Symbolic dimension names shared by the graphs (the onnx-community convention).
pub const BATCH: &str = "batch_size";
pub const SEQ: &str = "sequence_length";
pub const PAST: &str = "past_sequence_length";
pub const TOTAL: &str = "total_sequence_length";

/// A graph under construction plus the model's variables, added as initializers on first use.
struct Ctx<'a> {
    g: GraphBuilder,
    vars: &'a HashMap<String, Tensor>,
    added: HashSet<String>,
    /// Transposed linear weights already emitted, by variable name.
    transposed: HashMap<String, String>,
    eps: f32,
}

impl<'a> Ctx<'a> {
    fn new(name: &str, vars: &'a HashMap<String, Tensor>, eps: f64) -> Self {
        Self {
            g: GraphBuilder::new(name),
            vars,
            added: HashSet::new(),
            transposed: HashMap::new(),
            eps: eps as f32,
        }
    }

    /// The initializer holding variable `name`.
    fn weight(&mut self, name: &str) -> Result<String> {
        if !self.added.contains(name) {
            let t = self.vars.get(name).ok_or_else(|| Error::Export {
                path: "model".into(),
                message: format!("the model has no variable `{name}`"),
            })?;
            self.g.initializer(name, t)?;
            self.added.insert(name.to_string());
        }
        Ok(name.to_string())
    }

    fn op(&mut self, op: &str, inputs: &[&str]) -> Result<String> {
        self.g.node(op, inputs, vec![])
    }

    /// `x @ W^T` for the bias-free linear layer `prefix` (`prefix.weight` is `[out, in]`).
    fn linear(&mut self, x: &str, prefix: &str) -> Result<String> {
        let name = format!("{prefix}.weight");
        let wt = match self.transposed.get(&name) {
            Some(t) => t.clone(),
            None => {
                let w = self.weight(&name)?;
                let t = self
                    .g
                    .node("Transpose", &[&w], vec![attr_ints("perm", &[1, 0])])?;
                self.transposed.insert(name, t.clone());
                t
            }
        };
        self.op("MatMul", &[x, &wt])
    }

    /// `x * rsqrt(mean(x²) + eps) * w`, written as a division by the square root.
    fn rms_norm(&mut self, x: &str, prefix: &str) -> Result<String> {
        let sq = self.op("Mul", &[x, x])?;
        let mean = self.g.node(
            "ReduceMean",
            &[&sq],
            vec![attr_ints("axes", &[-1]), attr_int("keepdims", 1)],
        )?;
        let eps = self.g.scalar_f32("rms_eps", self.eps)?;
        let var = self.op("Add", &[&mean, &eps])?;
        let root = self.op("Sqrt", &[&var])?;
        let normed = self.op("Div", &[x, &root])?;
        let w = self.weight(&format!("{prefix}.weight"))?;
        self.op("Mul", &[&normed, &w])
    }

    fn silu(&mut self, x: &str) -> Result<String> {
        let s = self.op("Sigmoid", &[x])?;
        self.op("Mul", &[x, &s])
    }

    /// `down(silu(gate(x)) * up(x))`.
    fn swiglu(&mut self, x: &str, prefix: &str) -> Result<String> {
        let gate = self.linear(x, &format!("{prefix}.gate_proj"))?;
        let gate = self.silu(&gate)?;
        let up = self.linear(x, &format!("{prefix}.up_proj"))?;
        let h = self.op("Mul", &[&gate, &up])?;
        self.linear(&h, &format!("{prefix}.down_proj"))
    }

    /// `[B, S, heads * hd]` → `[B, heads, S, hd]`.
    fn split_heads(&mut self, x: &str, heads: i64, hd: i64) -> Result<String> {
        let shape = self.g.ints("heads_shape", &[0, 0, heads, hd])?;
        let r = self.op("Reshape", &[x, &shape])?;
        self.g
            .node("Transpose", &[&r], vec![attr_ints("perm", &[0, 2, 1, 3])])
    }

    /// `[B, heads, S, hd]` → `[B, S, heads * hd]`.
    fn merge_heads(&mut self, x: &str, width: i64) -> Result<String> {
        let t = self
            .g
            .node("Transpose", &[x], vec![attr_ints("perm", &[0, 2, 1, 3])])?;
        let shape = self.g.ints("merge_shape", &[0, 0, width])?;
        self.op("Reshape", &[&t, &shape])
    }

    /// `softmax(q kᵀ / sqrt(hd) [+ bias]) v` over `[B, H, *, hd]` tensors.
    fn attend(&mut self, q: &str, k: &str, v: &str, hd: i64, bias: Option<&str>) -> Result<String> {
        let kt = self
            .g
            .node("Transpose", &[k], vec![attr_ints("perm", &[0, 1, 3, 2])])?;
        let scores = self.op("MatMul", &[q, &kt])?;
        let scale = self.g.scalar_f32("attn_scale", (hd as f64).sqrt() as f32)?;
        let mut scores = self.op("Div", &[&scores, &scale])?;
        if let Some(b) = bias {
            scores = self.op("Add", &[&scores, b])?;
        }
        let probs = self
            .g
            .node("Softmax", &[&scores], vec![attr_int("axis", -1)])?;
        self.op("MatMul", &[&probs, v])
    }
}

fn variables(m: &ReticleVlm) -> HashMap<String, Tensor> {
    m.var_store().variables()
}

fn fixed(n: usize) -> Dim {
    Dim::Fixed(n as i64)
}

/// `vision_encoder.onnx`: `pixel_values [B, C, H, W]` → `image_features [B, N, hidden]`
/// (vision transformer, then the projector).
pub fn vision_encoder(m: &ReticleVlm) -> Result<ModelProto> {
    let cfg = m.config();
    let vars = variables(m);
    let mut c = Ctx::new("vision_encoder", &vars, cfg.rms_norm_eps);
    let px = c.g.input(
        "pixel_values",
        Elem::F32,
        &[
            Dim::Sym(BATCH),
            fixed(cfg.channels),
            Dim::Fixed(i64::from(cfg.image_height)),
            Dim::Fixed(i64::from(cfg.image_width)),
        ],
    )?;
    let p = i64::from(cfg.patch_size);
    let w = c.weight("vision.patch_embed.weight")?;
    let b = c.weight("vision.patch_embed.bias")?;
    let conv = c.g.node(
        "Conv",
        &[&px, &w, &b],
        vec![
            attr_ints("kernel_shape", &[p, p]),
            attr_ints("strides", &[p, p]),
        ],
    )?;
    // [B, D, h, w] → [B, D, h*w] → [B, h*w, D], row-major over the patch grid.
    let d = cfg.vision_hidden as i64;
    let flat_shape = c.g.ints("patch_shape", &[0, d, -1])?;
    let flat = c.op("Reshape", &[&conv, &flat_shape])?;
    let tokens =
        c.g.node("Transpose", &[&flat], vec![attr_ints("perm", &[0, 2, 1])])?;
    let pos = c.weight("vision.pos_embed")?;
    let mut x = c.op("Add", &[&tokens, &pos])?;
    let heads = cfg.vision_heads as i64;
    let hd = d / heads;
    for i in 0..cfg.vision_layers {
        let pre = format!("vision.blocks.{i}");
        let h = c.rms_norm(&x, &format!("{pre}.norm1"))?;
        let q = c.linear(&h, &format!("{pre}.attn.q_proj"))?;
        let k = c.linear(&h, &format!("{pre}.attn.k_proj"))?;
        let v = c.linear(&h, &format!("{pre}.attn.v_proj"))?;
        let q = c.split_heads(&q, heads, hd)?;
        let k = c.split_heads(&k, heads, hd)?;
        let v = c.split_heads(&v, heads, hd)?;
        let y = c.attend(&q, &k, &v, hd, None)?;
        let y = c.merge_heads(&y, d)?;
        let y = c.linear(&y, &format!("{pre}.attn.o_proj"))?;
        x = c.op("Add", &[&x, &y])?;
        let h = c.rms_norm(&x, &format!("{pre}.norm2"))?;
        let y = c.swiglu(&h, &format!("{pre}.mlp"))?;
        x = c.op("Add", &[&x, &y])?;
    }
    let x = c.rms_norm(&x, "vision.norm")?;
    let h = c.linear(&x, "projector.fc1")?;
    let h = c.silu(&h)?;
    let out = c.linear(&h, "projector.fc2")?;
    c.g.output(
        "image_features",
        &out,
        Elem::F32,
        &[
            Dim::Sym(BATCH),
            fixed(cfg.num_image_tokens()),
            fixed(cfg.hidden_size),
        ],
    )?;
    Ok(model(
        c.g.finish(),
        "reticle vision encoder: pixel_values [B, C, H, W] (normalised) -> image_features [B, N, hidden]",
    ))
}

/// `embed_tokens.onnx`: `input_ids [B, T]` → `inputs_embeds [B, T, hidden]`.
pub fn embed_tokens(m: &ReticleVlm) -> Result<ModelProto> {
    let cfg = m.config();
    let vars = variables(m);
    let mut c = Ctx::new("embed_tokens", &vars, cfg.rms_norm_eps);
    let ids =
        c.g.input("input_ids", Elem::I64, &[Dim::Sym(BATCH), Dim::Sym(SEQ)])?;
    let table = c.weight("model.embed_tokens.weight")?;
    let out =
        c.g.node("Gather", &[&table, &ids], vec![attr_int("axis", 0)])?;
    c.g.output(
        "inputs_embeds",
        &out,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Sym(SEQ), fixed(cfg.hidden_size)],
    )?;
    Ok(model(
        c.g.finish(),
        "reticle token embeddings: input_ids [B, T] -> inputs_embeds [B, T, hidden]",
    ))
}

/// The rotary inverse frequencies, computed exactly as `Rotary::new` does in tch.
fn inv_freq(cfg: &VlmConfig) -> Vec<f32> {
    let head_dim = cfg.head_dim();
    let theta = cfg.rope_theta;
    (0..head_dim / 2)
        .map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64) as f32)
        .collect()
}

/// `decoder_model_merged.onnx`: one decoder step or prefill with a KV cache.
///
/// Inputs `inputs_embeds [B, T, hidden]`, `attention_mask [B, past + T]` (int64, 1 = attend),
/// `position_ids [B, T]` (int64), `past_key_values.{i}.key/value [B, kv_heads, past, hd]`
/// (past may be 0); outputs `logits [B, T, vocab]` and `present.{i}.key/value
/// [B, kv_heads, past + T, hd]`.
pub fn decoder(m: &ReticleVlm) -> Result<ModelProto> {
    let cfg = m.config();
    let vars = variables(m);
    let mut c = Ctx::new("decoder_model_merged", &vars, cfg.rms_norm_eps);
    let hidden = cfg.hidden_size;
    let heads = cfg.num_heads as i64;
    let kv_heads = cfg.num_kv_heads as i64;
    let hd = cfg.head_dim() as i64;
    let embeds = c.g.input(
        "inputs_embeds",
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Sym(SEQ), fixed(hidden)],
    )?;
    let mask = c.g.input(
        "attention_mask",
        Elem::I64,
        &[Dim::Sym(BATCH), Dim::Sym(TOTAL)],
    )?;
    let pos_ids =
        c.g.input("position_ids", Elem::I64, &[Dim::Sym(BATCH), Dim::Sym(SEQ)])?;
    let kv_dims = |len: &'static str| {
        [
            Dim::Sym(BATCH),
            Dim::Fixed(kv_heads),
            Dim::Sym(len),
            Dim::Fixed(hd),
        ]
    };
    let mut past = Vec::with_capacity(cfg.num_layers);
    for i in 0..cfg.num_layers {
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

    // Attention bias [B, 1, T, total], as `attention_bias` in tch: 0 where key j is not
    // padding and j <= past + i, MASK_VALUE elsewhere. `past` is total − T, from the mask.
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
    let closed = c.g.scalar_f32("mask_value", MASK_VALUE as f32)?;
    let bias = c.op("Where", &[&allowed, &open, &closed])?;

    // Rotary cos/sin [B, 1, T, hd] from position ids (so left padding works).
    let inv = inv_freq(cfg);
    let inv = c.g.const_f32("inv_freq", &[inv.len() as i64], &inv)?;
    let pos_f = c.g.node(
        "Cast",
        &[&pos_ids],
        vec![attr_int("to", DataType::Float as i64)],
    )?;
    let axis_last = c.g.ints("axes", &[-1])?;
    let pos_f = c.op("Unsqueeze", &[&pos_f, &axis_last])?; // [B, T, 1]
    let freqs = c.op("Mul", &[&pos_f, &inv])?; // [B, T, hd/2]
    let emb =
        c.g.node("Concat", &[&freqs, &freqs], vec![attr_int("axis", -1)])?;
    let emb = c.op("Unsqueeze", &[&emb, &axis1])?; // [B, 1, T, hd]
    let cos = c.op("Cos", &[&emb])?;
    let sin = c.op("Sin", &[&emb])?;
    let half = hd / 2;
    let lo = c.g.ints("slice", &[0])?;
    let mid = c.g.ints("slice", &[half])?;
    let hi = c.g.ints("slice", &[hd])?;
    let ax3 = c.g.ints("slice_axis", &[3])?;
    let rope = |c: &mut Ctx, x: &str| -> Result<String> {
        let x1 = c.op("Slice", &[x, &lo, &mid, &ax3])?;
        let x2 = c.op("Slice", &[x, &mid, &hi, &ax3])?;
        let neg = c.op("Neg", &[&x2])?;
        let rotated =
            c.g.node("Concat", &[&neg, &x1], vec![attr_int("axis", 3)])?;
        let a = c.op("Mul", &[x, &cos])?;
        let b = c.op("Mul", &[&rotated, &sin])?;
        c.op("Add", &[&a, &b])
    };

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
    let mut presents = Vec::with_capacity(cfg.num_layers);
    for (i, (past_k, past_v)) in past.iter().enumerate() {
        let pre = format!("model.layers.{i}");
        let h = c.rms_norm(&x, &format!("{pre}.input_layernorm"))?;
        let q = c.linear(&h, &format!("{pre}.self_attn.q_proj"))?;
        let k = c.linear(&h, &format!("{pre}.self_attn.k_proj"))?;
        let v = c.linear(&h, &format!("{pre}.self_attn.v_proj"))?;
        let q = c.split_heads(&q, heads, hd)?;
        let k = c.split_heads(&k, kv_heads, hd)?;
        let v = c.split_heads(&v, kv_heads, hd)?;
        let q = rope(&mut c, &q)?;
        let k = rope(&mut c, &k)?;
        let k =
            c.g.node("Concat", &[past_k, &k], vec![attr_int("axis", 2)])?;
        let v =
            c.g.node("Concat", &[past_v, &v], vec![attr_int("axis", 2)])?;
        presents.push((k.clone(), v.clone()));
        let kr = repeat_kv(&mut c, &k)?;
        let vr = repeat_kv(&mut c, &v)?;
        let y = c.attend(&q, &kr, &vr, hd, Some(&bias))?;
        let y = c.merge_heads(&y, heads * hd)?;
        let y = c.linear(&y, &format!("{pre}.self_attn.o_proj"))?;
        x = c.op("Add", &[&x, &y])?;
        let h = c.rms_norm(&x, &format!("{pre}.post_attention_layernorm"))?;
        let y = c.swiglu(&h, &format!("{pre}.mlp"))?;
        x = c.op("Add", &[&x, &y])?;
    }
    let x = c.rms_norm(&x, "model.norm")?;
    let logits = c.linear(&x, "lm_head")?;
    c.g.output(
        "logits",
        &logits,
        Elem::F32,
        &[Dim::Sym(BATCH), Dim::Sym(SEQ), fixed(cfg.vocab_size)],
    )?;
    for (i, (k, v)) in presents.iter().enumerate() {
        c.g.output(&format!("present.{i}.key"), k, Elem::F32, &kv_dims(TOTAL))?;
        c.g.output(&format!("present.{i}.value"), v, Elem::F32, &kv_dims(TOTAL))?;
    }
    Ok(model(
        c.g.finish(),
        "reticle decoder with KV cache: inputs_embeds, attention_mask, position_ids, \
         past_key_values.N.key/value -> logits, present.N.key/value",
    ))
}

/// The names of every model variable that the three graphs together must hold.
pub fn variable_names(m: &ReticleVlm) -> Vec<String> {
    let mut names: Vec<String> = variables(m).into_keys().collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn graphs_use_every_variable_once_under_its_own_name() {
        let m = ReticleVlm::new(&VlmConfig::micro(), Device::Cpu).unwrap();
        let mut seen = Vec::new();
        for g in [
            vision_encoder(&m).unwrap(),
            embed_tokens(&m).unwrap(),
            decoder(&m).unwrap(),
        ] {
            let graph = g.graph.unwrap();
            seen.extend(
                graph
                    .initializer
                    .iter()
                    .filter_map(|t| t.name.clone())
                    .filter(|n| !n.starts_with('/')),
            );
        }
        seen.sort();
        assert_eq!(seen, variable_names(&m));
    }

    #[test]
    fn decoder_io_follows_the_manifest() {
        let m = ReticleVlm::new(&VlmConfig::micro(), Device::Cpu).unwrap();
        let graph = decoder(&m).unwrap().graph.unwrap();
        let names = |v: &[super::super::proto::ValueInfoProto]| -> Vec<String> {
            v.iter().filter_map(|i| i.name.clone()).collect()
        };
        let (want_in, want_out) = reticle_models::manifest::decoder_io_names(2);
        assert_eq!(names(&graph.input), want_in);
        assert_eq!(names(&graph.output), want_out);
    }
}
