//! The tensors a Qwen2-VL / Qwen2.5-VL checkpoint must hold, and loading them into a tch
//! `VarStore` whose variable names are the checkpoint's.
//!
//! Names are those of the published checkpoints, which `transformers` 5 also writes on
//! `save_pretrained`: `model.…` for the language model, `visual.…` for the vision tower,
//! `lm_head.weight` unless the embeddings are tied. Files holding the names of
//! `transformers` 5's modules instead (`model.language_model.…`, `model.visual.…`) are read
//! too; the variables keep the published names.
//!
//! Every expected tensor is checked by name and shape against the safetensors headers before
//! any data is read (`CheckpointDir::expect_tensor`: a missing or misshapen tensor is named).
//! Then each tensor's bytes are read straight from its shard into a buffer, converted to f32
//! and copied into its variable, so the peak extra memory is one tensor, never a second copy
//! of the model.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use tch::{nn, Device, Kind, Tensor};

use crate::error::{Error, Result};
use reticle_models::qwen::{CheckpointDir, Family, QwenConfig};

/// Prefix of the language model's tensors.
pub const TEXT_PREFIX: &str = "model";
/// Prefix of the vision tower's tensors.
pub const VISION_PREFIX: &str = "visual";

/// Every tensor the model reads, with its shape, in a stable order.
pub fn expected_tensors(cfg: &QwenConfig) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    let mut add = |name: String, shape: &[usize]| out.push((name, shape.to_vec()));
    let t = &cfg.text;
    let (h, hd) = (t.hidden_size, t.head_dim());
    let (q, kv) = (t.num_attention_heads * hd, t.num_key_value_heads * hd);
    add(
        format!("{TEXT_PREFIX}.embed_tokens.weight"),
        &[t.vocab_size, h],
    );
    for i in 0..t.num_hidden_layers {
        let p = format!("{TEXT_PREFIX}.layers.{i}");
        add(format!("{p}.input_layernorm.weight"), &[h]);
        add(format!("{p}.post_attention_layernorm.weight"), &[h]);
        for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            add(format!("{p}.self_attn.{name}.weight"), &[rows, h]);
            add(format!("{p}.self_attn.{name}.bias"), &[rows]);
        }
        add(format!("{p}.self_attn.o_proj.weight"), &[h, q]);
        add(
            format!("{p}.mlp.gate_proj.weight"),
            &[t.intermediate_size, h],
        );
        add(format!("{p}.mlp.up_proj.weight"), &[t.intermediate_size, h]);
        add(
            format!("{p}.mlp.down_proj.weight"),
            &[h, t.intermediate_size],
        );
    }
    add(format!("{TEXT_PREFIX}.norm.weight"), &[h]);
    if !cfg.tie_word_embeddings {
        add("lm_head.weight".to_string(), &[t.vocab_size, h]);
    }

    let v = &cfg.vision;
    let (d, i) = (v.hidden_size, v.intermediate_size);
    let layer_norm = cfg.family == Family::Qwen2Vl;
    let norm = |add: &mut dyn FnMut(String, &[usize]), name: String, dim: usize| {
        add(format!("{name}.weight"), &[dim]);
        if layer_norm {
            add(format!("{name}.bias"), &[dim]);
        }
    };
    let linear = |add: &mut dyn FnMut(String, &[usize]), name: String, o: usize, i: usize| {
        add(format!("{name}.weight"), &[o, i]);
        add(format!("{name}.bias"), &[o]);
    };
    let p = VISION_PREFIX;
    add(
        format!("{p}.patch_embed.proj.weight"),
        &[
            d,
            v.in_channels,
            v.temporal_patch_size,
            v.patch_size,
            v.patch_size,
        ],
    );
    for b in 0..v.depth {
        let bp = format!("{p}.blocks.{b}");
        norm(&mut add, format!("{bp}.norm1"), d);
        norm(&mut add, format!("{bp}.norm2"), d);
        linear(&mut add, format!("{bp}.attn.qkv"), 3 * d, d);
        linear(&mut add, format!("{bp}.attn.proj"), d, d);
        match cfg.family {
            Family::Qwen2Vl => {
                linear(&mut add, format!("{bp}.mlp.fc1"), i, d);
                linear(&mut add, format!("{bp}.mlp.fc2"), d, i);
            }
            Family::Qwen25Vl => {
                linear(&mut add, format!("{bp}.mlp.gate_proj"), i, d);
                linear(&mut add, format!("{bp}.mlp.up_proj"), i, d);
                linear(&mut add, format!("{bp}.mlp.down_proj"), d, i);
            }
        }
    }
    let merged = d * v.spatial_merge_size * v.spatial_merge_size;
    norm(&mut add, format!("{p}.merger.ln_q"), d);
    linear(&mut add, format!("{p}.merger.mlp.0"), merged, merged);
    linear(
        &mut add,
        format!("{p}.merger.mlp.2"),
        v.out_hidden_size,
        merged,
    );
    out
}

/// The name `transformers` 5's modules give the published `name`.
fn module_name(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("model.") {
        Some(format!("model.language_model.{rest}"))
    } else {
        name.strip_prefix("visual.")
            .map(|rest| format!("model.visual.{rest}"))
    }
}

/// Creates one variable of `dtype` (f32, bf16 or f16) per expected tensor in `vs`, named as
/// in the checkpoint, and fills it from the shards. Checks every name and shape first.
pub fn load(vs: &nn::VarStore, ckpt: &CheckpointDir, dtype: Kind) -> Result<()> {
    let expected = expected_tensors(&ckpt.config);
    // Resolve names and check shapes before reading any data.
    let mut plan = Vec::with_capacity(expected.len());
    for (name, shape) in &expected {
        let file_name = match module_name(name) {
            Some(alt) if ckpt.tensor(name).is_none() && ckpt.tensor(&alt).is_some() => alt,
            _ => name.clone(),
        };
        let info = ckpt.expect_tensor(&file_name, shape)?;
        let kind = match info.dtype.as_str() {
            "F32" => Kind::Float,
            "BF16" => Kind::BFloat16,
            "F16" => Kind::Half,
            other => {
                return Err(Error::Weights(format!(
                    "tensor `{file_name}` in {} has dtype {other}; only F32, BF16 and F16 are read",
                    info.file
                )))
            }
        };
        plan.push((name.as_str(), file_name, info, kind));
    }
    let unused = ckpt.tensors().len().saturating_sub(plan.len());
    if unused > 0 {
        tracing::debug!(unused, "checkpoint tensors the model does not read");
    }
    // One shard at a time, tensors in file order.
    let mut by_shard: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for entry in plan {
        by_shard
            .entry(entry.2.file.as_str())
            .or_default()
            .push(entry);
    }
    let root = vs.root();
    let mut buf = Vec::new();
    for (shard, mut entries) in by_shard {
        entries.sort_by_key(|(_, _, info, _)| info.data_offsets.0);
        let path = ckpt.root.join(shard);
        let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(|e| Error::io(&path, e))?;
        let data_start = 8 + u64::from_le_bytes(len);
        for (name, file_name, info, kind) in entries {
            let (begin, end) = info.data_offsets;
            buf.resize((end - begin) as usize, 0);
            file.seek(SeekFrom::Start(data_start + begin))
                .and_then(|_| file.read_exact(&mut buf))
                .map_err(|e| Error::io(&path, e))?;
            let shape: Vec<i64> = info.shape.iter().map(|&d| d as i64).collect();
            let tensor = Tensor::f_from_data_size(&buf, &shape, kind)?.f_to_kind(dtype)?;
            let parts: Vec<&str> = name.split('.').collect();
            let (var, folders) = parts.split_last().unwrap_or((&"", &[]));
            let path = folders.iter().fold(root.clone(), |p, part| p.sub(*part));
            let _var = path
                .f_var_copy(var, &tensor)
                .map_err(|e| Error::Weights(format!("tensor `{file_name}`: {e}")))?;
        }
    }
    tracing::info!(
        root = %ckpt.root.display(),
        tensors = expected.len(),
        dtypes = ?ckpt.dtypes(),
        as_dtype = ?dtype,
        "loaded checkpoint weights"
    );
    Ok(())
}

/// The variables of a loaded model by name; a missing name is an error naming it.
pub(super) struct Weights {
    vars: HashMap<String, Tensor>,
    device: Device,
}

impl Weights {
    pub(super) fn new(vs: &nn::VarStore) -> Self {
        Self {
            vars: vs.variables(),
            device: vs.device(),
        }
    }

    pub(super) fn get(&self, name: &str) -> Result<Tensor> {
        self.vars
            .get(name)
            .map(Tensor::shallow_clone)
            .ok_or_else(|| Error::Weights(format!("no variable `{name}`")))
    }

    pub(super) fn device(&self) -> Device {
        self.device
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_of_published_names() {
        assert_eq!(
            module_name("model.layers.0.mlp.up_proj.weight").as_deref(),
            Some("model.language_model.layers.0.mlp.up_proj.weight")
        );
        assert_eq!(
            module_name("visual.merger.mlp.0.bias").as_deref(),
            Some("model.visual.merger.mlp.0.bias")
        );
        assert_eq!(module_name("lm_head.weight"), None);
    }
}
