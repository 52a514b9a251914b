//! The three ONNX graphs of a [`ReticleVlm`], written op by op to mirror its tch forward
//! passes (`model/reticle_vlm.rs`): the same weights under the same names, the same
//! operation order, and the same constants (RMSNorm epsilon, rotary frequencies, the finite
//! attention mask value), so that ONNX Runtime reproduces tch to float32 rounding.
//!
//! Linear weights keep their tch layout `[out, in]` (the initializer equals the variable) and
//! are multiplied through a `Transpose`, which ONNX Runtime folds into a constant on load.

use std::collections::HashMap;

use tch::Tensor;

use super::decoder::{self, DecoderLayout, Positions, BATCH};
use super::onnx_builder::{attr_ints, model, Dim, Elem};
use super::ops::{Act, Ctx};
use super::proto::ModelProto;
use crate::error::Result;
use crate::model::{Policy, ReticleVlm, VlmConfig};

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
        let y = c.attend(&q, &k, &v, hd, 4, None)?;
        let y = c.merge_heads(&y, d)?;
        let y = c.linear(&y, &format!("{pre}.attn.o_proj"))?;
        x = c.op("Add", &[&x, &y])?;
        let h = c.rms_norm(&x, &format!("{pre}.norm2"))?;
        let y = c.gated_mlp(&h, &format!("{pre}.mlp"), Act::Silu)?;
        x = c.op("Add", &[&x, &y])?;
    }
    let x = c.rms_norm(&x, "vision.norm")?;
    let h = c.linear(&x, "projector.fc1")?;
    let h = c.act(&h, Act::Silu)?;
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
    decoder::embed_tokens(&variables(m), m.config().hidden_size)
}

/// The rotary inverse frequencies, computed exactly as `Rotary::new` does in tch.
fn inv_freq(cfg: &VlmConfig) -> Vec<f32> {
    let head_dim = cfg.head_dim();
    let theta = cfg.rope_theta;
    (0..head_dim / 2)
        .map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64) as f32)
        .collect()
}

/// `decoder_model_merged.onnx`: one decoder step or prefill with a KV cache and linear
/// positions (see [`decoder::decoder`]).
pub fn decoder(m: &ReticleVlm) -> Result<ModelProto> {
    let cfg = m.config();
    let layout = DecoderLayout {
        layers: cfg.num_layers,
        heads: cfg.num_heads,
        kv_heads: cfg.num_kv_heads,
        head_dim: cfg.head_dim(),
        hidden: cfg.hidden_size,
        vocab: cfg.vocab_size,
        rms_eps: cfg.rms_norm_eps,
        inv_freq: inv_freq(cfg),
        positions: Positions::Linear,
        lm_head: "lm_head".into(),
        last_logits_only: false,
        quant: None,
    };
    decoder::decoder(&variables(m), &layout)
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
