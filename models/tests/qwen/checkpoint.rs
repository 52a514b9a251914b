//! The checkpoint folder: what opens, and errors that name the problem.

use std::path::Path;

use anyhow::Result;
use reticle_models::qwen::{CheckpointDir, Family};

use crate::util::{tiny_config, tiny_tokenizer, write_checkpoint, write_safetensors, TINY_TENSORS};

fn open_error(dir: &Path) -> String {
    match CheckpointDir::open(dir) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn check_error(dir: &Path, expected: &str) {
    let err = open_error(dir);
    assert!(err.contains(expected), "expected `{expected}` in: {err}");
}

#[test]
fn a_single_file_checkpoint_opens() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), false)?;
    let ckpt = CheckpointDir::open(dir.path())?;
    assert_eq!(ckpt.config.family, Family::Qwen25Vl);
    assert_eq!(ckpt.shards, vec!["model.safetensors"]);
    assert_eq!(ckpt.tensors().len(), TINY_TENSORS.len());
    assert_eq!(ckpt.dtypes().get("BF16"), Some(&3));
    assert_eq!(ckpt.dtypes().get("F32"), Some(&1));
    ckpt.expect_tensor("lm_head.weight", &[8, 16])?;
    assert!(ckpt
        .chat_template
        .as_deref()
        .is_some_and(|t| t.contains("<|vision_start|>")));
    assert!(ckpt.generation.is_some());
    assert_eq!(ckpt.processor.max_pixels, 12_845_056);
    Ok(())
}

#[test]
fn a_sharded_checkpoint_maps_tensors_to_shards() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), true)?;
    let ckpt = CheckpointDir::open(dir.path())?;
    assert_eq!(ckpt.shards.len(), 2);
    let info = ckpt.expect_tensor("model.visual.patch_embed.proj.weight", &[8, 3, 2, 14, 14])?;
    assert_eq!(info.file, "model-00002-of-00002.safetensors");
    assert_eq!(info.dtype, "F32");
    assert_eq!(info.data_offsets, (0, 8 * 3 * 2 * 14 * 14 * 4));
    let info = ckpt.expect_tensor("model.language_model.norm.weight", &[16])?;
    assert_eq!(info.file, "model-00001-of-00002.safetensors");
    Ok(())
}

#[test]
fn expect_tensor_names_missing_and_misshapen_tensors() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), true)?;
    let ckpt = CheckpointDir::open(dir.path())?;
    let err = ckpt
        .expect_tensor("model.visual.merger.mlp.0.weight", &[1])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing tensor `model.visual.merger.mlp.0.weight`"),
        "{err}"
    );
    let err = ckpt
        .expect_tensor("lm_head.weight", &[16, 8])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tensor `lm_head.weight` in model-00002-of-00002.safetensors has shape [8, 16], expected [16, 8]"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_missing_shard_is_named() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), true)?;
    std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors"))?;
    check_error(dir.path(), "missing shard model-00002-of-00002.safetensors");
    Ok(())
}

#[test]
fn an_index_that_misplaces_a_tensor_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), true)?;
    // Shard 2 loses `lm_head.weight`, which the index still places there.
    write_safetensors(
        &dir.path().join("model-00002-of-00002.safetensors"),
        &TINY_TENSORS[2..3],
    )?;
    check_error(dir.path(), "places tensor `lm_head.weight` in model-00002-of-00002.safetensors, which does not hold it");
    Ok(())
}

#[test]
fn broken_weights_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), false)?;
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path)?;
    std::fs::write(&path, &bytes[..bytes.len() - 10])?;
    check_error(dir.path(), "tensor `");
    std::fs::write(&path, b"tiny")?;
    check_error(dir.path(), "shorter than its 8-byte header length");
    std::fs::remove_file(&path)?;
    check_error(
        dir.path(),
        "no weights: neither model.safetensors nor model.safetensors.index.json",
    );
    Ok(())
}

#[test]
fn a_tokenizer_without_vision_tokens_is_named() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), false)?;
    let tokenizer = tiny_tokenizer(&["<|vision_start|>", "<|img|>", "<|vision_end|>"]);
    std::fs::write(
        dir.path().join("tokenizer.json"),
        serde_json::to_vec(&tokenizer)?,
    )?;
    check_error(dir.path(), "the tokenizer has no <|image_pad|> token");
    // Present but with another id than config.json gives it.
    let tokenizer = tiny_tokenizer(&["<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]);
    std::fs::write(
        dir.path().join("tokenizer.json"),
        serde_json::to_vec(&tokenizer)?,
    )?;
    check_error(
        dir.path(),
        "the tokenizer gives <|image_pad|> id 5 but config.json says 4",
    );
    Ok(())
}

#[test]
fn an_unsupported_model_type_is_named() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_checkpoint(dir.path(), false)?;
    let config = tiny_config("qwen3_vl");
    std::fs::write(dir.path().join("config.json"), serde_json::to_vec(&config)?)?;
    check_error(
        dir.path(),
        "unsupported model_type `qwen3_vl` (supported: qwen2_vl, qwen2_5_vl)",
    );
    Ok(())
}
