//! Loading errors name the tensor; the expected tensor list equals `transformers`' own.

use std::collections::BTreeSet;

use anyhow::Result;
use reticle_models::qwen::CheckpointDir;
use reticle_trainer::model::qwen::{weights::expected_tensors, QwenVl};
use serde_json::Value;
use tch::{Device, Kind};

use crate::util::{copy_dir, peer};

/// The tensors `transformers` saved are exactly the ones reticle reads.
#[test]
fn expected_tensors_are_the_saved_ones() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    for ck in &peer()?.checkpoints {
        let dir = CheckpointDir::open(&ck.dir)?;
        let saved: BTreeSet<&String> = dir.tensors().keys().collect();
        let expected = expected_tensors(&dir.config);
        let ours: BTreeSet<&String> = expected.iter().map(|(n, _)| n).collect();
        assert_eq!(ours, saved, "{}", ck.dir.display());
        for (name, shape) in &expected {
            dir.expect_tensor(name, shape)?;
        }
    }
    Ok(())
}

/// Rewrites `config.json` of `dir` through `edit`.
fn edit_config(dir: &std::path::Path, edit: impl FnOnce(&mut Value)) -> Result<()> {
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

fn load_error(dir: &std::path::Path) -> String {
    match CheckpointDir::open(dir)
        .map_err(anyhow::Error::from)
        .and_then(|c| QwenVl::load(&c, Device::Cpu).map_err(anyhow::Error::from))
    {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn wrong_shape_or_missing_tensor_is_named() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let run = peer()?;
    let tmp = tempfile::tempdir()?;
    // Qwen2-VL, one file, tied embeddings: a wider MLP in the config makes the checkpoint's
    // MLP weights the wrong shape; the first one checked is named with both shapes.
    let q2 = tmp.path().join("q2");
    copy_dir(&run.checkpoints[0].dir, &q2)?;
    edit_config(&q2, |c| c["text_config"]["intermediate_size"] = 128.into())?;
    let err = load_error(&q2);
    assert!(
        err.contains("tensor `model.layers.0.mlp.gate_proj.weight`")
            && err.contains("[112, 64]")
            && err.contains("[128, 64]"),
        "{err}"
    );
    // Untying the embeddings asks for `lm_head.weight`, which a tied checkpoint lacks.
    let q2b = tmp.path().join("q2b");
    copy_dir(&run.checkpoints[0].dir, &q2b)?;
    edit_config(&q2b, |c| c["tie_word_embeddings"] = false.into())?;
    let err = load_error(&q2b);
    assert!(err.contains("missing tensor `lm_head.weight`"), "{err}");
    // Qwen2.5-VL, sharded: one more vision block than the shards hold.
    let q25 = tmp.path().join("q25");
    copy_dir(&run.checkpoints[1].dir, &q25)?;
    edit_config(&q25, |c| c["vision_config"]["depth"] = 4.into())?;
    let err = load_error(&q25);
    assert!(err.contains("missing tensor `visual.blocks.3."), "{err}");
    Ok(())
}

/// bf16 and f16 files load as the f32 values of their 16-bit weights.
#[test]
fn bf16_and_f16_files_load_as_f32() -> Result<()> {
    let _rng = crate::util::torch_rng_shared();
    let run = peer()?;
    let tmp = tempfile::tempdir()?;
    let half = tmp.path().join("half");
    copy_dir(&run.checkpoints[0].dir, &half)?;
    let file = half.join("model.safetensors");
    let tensors = tch::Tensor::read_safetensors(&file)?;
    // Alternate bf16 and f16, so both conversions are exercised.
    let converted: Vec<(String, tch::Tensor)> = tensors
        .iter()
        .enumerate()
        .map(|(i, (name, t))| {
            let kind = if i % 2 == 0 {
                Kind::BFloat16
            } else {
                Kind::Half
            };
            (name.clone(), t.to_kind(kind))
        })
        .collect();
    tch::Tensor::write_safetensors(&converted, &file)?;
    let ckpt = CheckpointDir::open(&half)?;
    let dtypes = ckpt.dtypes();
    assert!(
        dtypes.contains_key("BF16") && dtypes.contains_key("F16"),
        "{dtypes:?}"
    );
    let model = QwenVl::load(&ckpt, Device::Cpu)?;
    let vars = model.var_store().variables();
    assert_eq!(vars.len(), converted.len());
    for (name, t) in &converted {
        let var = &vars[name];
        assert_eq!(var.kind(), Kind::Float, "{name}");
        assert!(var.equal(&t.to_kind(Kind::Float)), "{name}");
    }
    Ok(())
}
