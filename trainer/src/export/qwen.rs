//! The three ONNX graphs of a Qwen2-VL / Qwen2.5-VL model in the onnx-community layout,
//! written op by op after the tch model (`model/qwen`) over its merged weights (adapters
//! folded in, [`QwenVl::merged_variables`]), named as in the checkpoint.
//!
//! - `vision_encoder`: `pixel_values [n_patches, C·T·P·P]` and `image_grid_thw [1, 3]` →
//!   `image_features [n_patches / merge², hidden]`. The patch positions, the 2-D rotary
//!   angles and the attention masks are computed in the graph from the grid, so one graph
//!   serves every image size. Where `transformers` (and the tch model) reorder Qwen2.5-VL's
//!   patches window by window and attend within each window, the graph keeps the image order
//!   and masks attention to the patch's own window (the same result, as attention is
//!   per-token given the mask); full-attention blocks mask to the patch's own frame.
//! - `embed_tokens` and `decoder_model_merged` ([`super::decoder`]) with M-RoPE
//!   `position_ids [3, B, T]`.
//!
//! One image per prompt: the grid input has one row.

use std::collections::HashMap;

use reticle_models::qwen::{Family, QwenConfig};
use tch::{Device, Tensor};

use super::decoder::{self, DecoderLayout, Positions};
use super::onnx_builder::{attr_int, attr_ints, model, Dim, Elem};
use super::ops::{Act, Ctx};
use super::proto::{tensor_proto::DataType, ModelProto};
use crate::error::{Error, Result};
use crate::model::qwen::rope::{inv_freq, VISION_ROPE_THETA};
use crate::model::qwen::{Activation, VISION_NORM_EPS};

/// Symbolic sizes of the vision encoder's I/O.
pub const PATCHES: &str = "num_patches";
pub const IMAGE_TOKENS: &str = "num_image_tokens";

fn act(name: &str, field: &str) -> Result<Act> {
    Ok(match Activation::parse(name, field)? {
        Activation::Silu => Act::Silu,
        Activation::QuickGelu => Act::QuickGelu,
        Activation::Gelu => Act::Gelu,
        Activation::GeluTanh => Act::GeluTanh,
    })
}

/// The rotary inverse frequencies `1 / base^(2i / dim)`, computed by the tch model's own
/// function so that the constants are bit-identical.
fn frequencies(base: f64, dim: usize) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(&inv_freq(
        base,
        dim as i64,
        Device::Cpu,
    ))?)
}

/// The decoder of `cfg`'s language model.
pub fn decoder_layout(cfg: &QwenConfig) -> Result<DecoderLayout> {
    let t = &cfg.text;
    Ok(DecoderLayout {
        layers: t.num_hidden_layers,
        heads: t.num_attention_heads,
        kv_heads: t.num_key_value_heads,
        head_dim: t.head_dim(),
        hidden: t.hidden_size,
        vocab: t.vocab_size,
        rms_eps: t.rms_norm_eps,
        inv_freq: frequencies(t.rope_theta, t.head_dim())?,
        positions: Positions::Mrope {
            section: t.mrope_section.clone(),
        },
        lm_head: if cfg.tie_word_embeddings {
            "model.embed_tokens".into()
        } else {
            "lm_head".into()
        },
        last_logits_only: true,
        quant: None,
    })
}

/// `embed_tokens.onnx`.
pub fn embed_tokens(vars: &HashMap<String, Tensor>, cfg: &QwenConfig) -> Result<ModelProto> {
    decoder::embed_tokens(vars, cfg.text.hidden_size)
}

/// `decoder_model_merged.onnx`, its linear maps quantised when `quant` says so.
pub fn decoder_graph(
    vars: &HashMap<String, Tensor>,
    cfg: &QwenConfig,
    quant: Option<super::quant::Quant>,
) -> Result<ModelProto> {
    let layout = DecoderLayout {
        quant,
        ..decoder_layout(cfg)?
    };
    decoder::decoder(vars, &layout)
}

/// Integer scalar arithmetic on graph values, for the patch positions.
struct Int<'c, 'a> {
    c: &'c mut Ctx<'a>,
}

impl Int<'_, '_> {
    fn k(&mut self, v: i64) -> Result<String> {
        self.c.g.const_i64("k", &[], &[v])
    }
    fn bin(&mut self, op: &str, a: &str, b: &str) -> Result<String> {
        self.c.op(op, &[a, b])
    }
    /// `a op constant`.
    fn bin_k(&mut self, op: &str, a: &str, v: i64) -> Result<String> {
        let k = self.k(v)?;
        self.bin(op, a, &k)
    }
}

/// `[N, N]` additive attention bias: 0 where `key[i] == key[j]`, the mask value elsewhere.
fn same_group_bias(c: &mut Ctx, key: &str) -> Result<String> {
    let a1 = c.g.ints("axes", &[1])?;
    let a0 = c.g.ints("axes", &[0])?;
    let col = c.op("Unsqueeze", &[key, &a1])?;
    let row = c.op("Unsqueeze", &[key, &a0])?;
    let same = c.op("Equal", &[&col, &row])?;
    let open = c.g.scalar_f32("bias_open", 0.0)?;
    let closed = c.g.scalar_f32("mask_value", decoder::MASK_VALUE)?;
    c.op("Where", &[&same, &open, &closed])
}

/// `vision_encoder.onnx` of `cfg`'s vision tower.
pub fn vision_encoder(vars: &HashMap<String, Tensor>, cfg: &QwenConfig) -> Result<ModelProto> {
    let v = &cfg.vision;
    let mut c = Ctx::new("vision_encoder", vars, VISION_NORM_EPS);
    let d = v.hidden_size as i64;
    let heads = v.num_heads as i64;
    let hd = d / heads;
    let m = v.spatial_merge_size as i64;
    let unit = m * m;
    let patch_dim = (v.in_channels * v.temporal_patch_size * v.patch_size * v.patch_size) as i64;
    if hd % 4 != 0 {
        return Err(Error::Export {
            path: "model".into(),
            message: format!("vision head_dim {hd} must be a multiple of 4 for 2-D rotary"),
        });
    }
    let px = c.g.input(
        "pixel_values",
        Elem::F32,
        &[Dim::Sym(PATCHES), Dim::Fixed(patch_dim)],
    )?;
    let grid_in =
        c.g.input("image_grid_thw", Elem::I64, &[Dim::Fixed(1), Dim::Fixed(3)])?;

    // Patch embedding: the Conv3d kernel [D, C, T, P, P] as a [D, C·T·P·P] linear map.
    let kernel = c.weight("visual.patch_embed.proj.weight")?;
    let flat = c.g.ints("kernel_shape", &[d, patch_dim])?;
    let kernel = c.op("Reshape", &[&kernel, &flat])?;
    let kt =
        c.g.node("Transpose", &[&kernel], vec![attr_ints("perm", &[1, 0])])?;
    let mut x = c.op("MatMul", &[&px, &kt])?; // [N, D]

    // Patch (frame, row, column) from the grid, in the processor's order: frames, then
    // merge blocks row by row, then the patches of a block row by row.
    let three = c.g.ints("grid_shape", &[3])?;
    let grid = c.op("Reshape", &[&grid_in, &three])?;
    let mut dims = Vec::new();
    for i in 0..3 {
        let idx = c.g.const_i64("grid_axis", &[], &[i])?;
        dims.push(c.g.node("Gather", &[&grid, &idx], vec![attr_int("axis", 0)])?);
    }
    let (t, h, w) = (&dims[0], &dims[1], &dims[2]);
    let mut n = Int { c: &mut c };
    let per_frame = n.bin("Mul", h, w)?;
    let count = n.bin("Mul", t, &per_frame)?;
    let zero = n.k(0)?;
    let one = n.k(1)?;
    let p = n.c.op("Range", &[&zero, &count, &one])?;
    let frame = n.bin("Div", &p, &per_frame)?;
    let q = n.bin("Mod", &p, &per_frame)?;
    let block = n.bin_k("Div", &q, unit)?;
    let within = n.bin_k("Mod", &q, unit)?;
    let blocks_w = n.bin_k("Div", w, m)?;
    let block_row = n.bin("Div", &block, &blocks_w)?;
    let block_col = n.bin("Mod", &block, &blocks_w)?;
    let r0 = n.bin_k("Mul", &block_row, m)?;
    let r1 = n.bin_k("Div", &within, m)?;
    let row = n.bin("Add", &r0, &r1)?;
    let c0 = n.bin_k("Mul", &block_col, m)?;
    let c1 = n.bin_k("Mod", &within, m)?;
    let col = n.bin("Add", &c0, &c1)?;

    // 2-D rotary: a quarter of the head's frequencies turn with the row, a quarter with the
    // column, the half repeated: [N, hd].
    let inv = frequencies(VISION_ROPE_THETA, (hd / 2) as usize)?;
    let inv =
        c.g.const_f32("vision_inv_freq", &[inv.len() as i64], &inv)?;
    let a1 = c.g.ints("axes", &[1])?;
    let mut angles = Vec::new();
    for pos in [&row, &col] {
        let f =
            c.g.node("Cast", &[pos], vec![attr_int("to", DataType::Float as i64)])?;
        let f = c.op("Unsqueeze", &[&f, &a1])?;
        angles.push(c.op("Mul", &[&f, &inv])?);
    }
    let hw = c.g.node(
        "Concat",
        &[&angles[0], &angles[1]],
        vec![attr_int("axis", -1)],
    )?;
    let emb =
        c.g.node("Concat", &[&hw, &hw], vec![attr_int("axis", -1)])?;
    let cos = c.op("Cos", &[&emb])?;
    let sin = c.op("Sin", &[&emb])?;

    // Attention groups: the frame (full attention), and for Qwen2.5-VL the window of merge
    // blocks (`window_size / merge / patch` blocks a side).
    let full_bias = same_group_bias(&mut c, &frame)?;
    let window_bias = match (cfg.family, &v.window) {
        (Family::Qwen25Vl, Some(win)) => {
            let side = (win.window_size / v.spatial_merge_size / v.patch_size).max(1) as i64;
            let mut n = Int { c: &mut c };
            let wr = n.bin_k("Div", &block_row, side)?;
            let wc = n.bin_k("Div", &block_col, side)?;
            let id = n.bin("Mul", &frame, h)?;
            let id = n.bin("Add", &id, &wr)?;
            let id = n.bin("Mul", &id, w)?;
            let id = n.bin("Add", &id, &wc)?;
            Some((
                same_group_bias(&mut c, &id)?,
                win.fullatt_block_indexes.clone(),
            ))
        }
        _ => None,
    };

    let block_act = act(&v.hidden_act, "vision_config.hidden_act")?;
    let norm = |c: &mut Ctx, x: &str, prefix: &str| match cfg.family {
        Family::Qwen2Vl => c.layer_norm(x, prefix),
        Family::Qwen25Vl => c.rms_norm(x, prefix),
    };
    let qkv_shape = c.g.ints("qkv_shape", &[-1, 3, heads, hd])?;
    let out_shape = c.g.ints("attn_out_shape", &[-1, d])?;
    for i in 0..v.depth {
        let pre = format!("visual.blocks.{i}");
        let bias = match &window_bias {
            Some((wb, full)) if !full.contains(&i) => wb.clone(),
            _ => full_bias.clone(),
        };
        let hn = norm(&mut c, &x, &format!("{pre}.norm1"))?;
        let qkv = c.linear(&hn, &format!("{pre}.attn.qkv"))?;
        let qkv = c.op("Reshape", &[&qkv, &qkv_shape])?;
        // [N, 3, heads, hd] → [3, heads, N, hd]
        let qkv =
            c.g.node("Transpose", &[&qkv], vec![attr_ints("perm", &[1, 2, 0, 3])])?;
        let mut parts = Vec::new();
        for j in 0..3 {
            let idx = c.g.const_i64("qkv_index", &[], &[j])?;
            parts.push(c.g.node("Gather", &[&qkv, &idx], vec![attr_int("axis", 0)])?);
        }
        let q = c.rope(&parts[0], &cos, &sin, hd, 2)?;
        let k = c.rope(&parts[1], &cos, &sin, hd, 2)?;
        let y = c.attend(&q, &k, &parts[2], hd, 3, Some(&bias))?; // [heads, N, hd]
        let y =
            c.g.node("Transpose", &[&y], vec![attr_ints("perm", &[1, 0, 2])])?;
        let y = c.op("Reshape", &[&y, &out_shape])?;
        let y = c.linear(&y, &format!("{pre}.attn.proj"))?;
        x = c.op("Add", &[&x, &y])?;
        let hn = norm(&mut c, &x, &format!("{pre}.norm2"))?;
        let y = match cfg.family {
            Family::Qwen2Vl => {
                let y = c.linear(&hn, &format!("{pre}.mlp.fc1"))?;
                let y = c.act(&y, block_act)?;
                c.linear(&y, &format!("{pre}.mlp.fc2"))?
            }
            Family::Qwen25Vl => c.gated_mlp(&hn, &format!("{pre}.mlp"), block_act)?,
        };
        x = c.op("Add", &[&x, &y])?;
    }

    // Merger: norm, merge² neighbouring patches side by side, MLP with exact GELU.
    let hn = norm(&mut c, &x, "visual.merger.ln_q")?;
    let merged_shape = c.g.ints("merged_shape", &[-1, d * unit])?;
    let merged = c.op("Reshape", &[&hn, &merged_shape])?;
    let y = c.linear(&merged, "visual.merger.mlp.0")?;
    let y = c.act(&y, Act::Gelu)?;
    let out = c.linear(&y, "visual.merger.mlp.2")?;
    c.g.output(
        "image_features",
        &out,
        Elem::F32,
        &[Dim::Sym(IMAGE_TOKENS), Dim::Fixed(v.out_hidden_size as i64)],
    )?;
    Ok(model(
        c.g.finish(),
        "qwen vision encoder: pixel_values [n_patches, C*T*P*P], image_grid_thw [1, 3] \
         -> image_features [n_patches / merge^2, hidden]",
    ))
}
