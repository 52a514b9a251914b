//! Shared helpers: the tools venv's Python, the one `transformers` peer run, test images and
//! tiny checkpoint folders.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// The tools venv's Python (`$RETICLE_TOOLS_VENV`, else `~/.cache/reticle/tools-venv`), as the
/// trainer's parity checks find it. A missing venv fails the test: `scripts/setup.sh all`.
pub fn tools_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("RETICLE_TOOLS_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(std::env::var_os("HOME").context("no HOME")?)
            .join(".cache/reticle/tools-venv"),
    };
    let python = venv.join("bin/python");
    if !python.is_file() {
        bail!(
            "{} is missing: run `scripts/setup.sh all` (the tools venv with transformers)",
            python.display()
        );
    }
    Ok(python)
}

/// Runs `transformers_peer.py` on `job` in `dir`; returns its result JSON.
pub fn run_peer(dir: &Path, job: &Value) -> Result<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qwen/transformers_peer.py");
    let job_path = dir.join("job.json");
    let result_path = dir.join("result.json");
    std::fs::write(&job_path, serde_json::to_vec_pretty(job)?)?;
    let output = Command::new(tools_python()?)
        .arg(&script)
        .arg(&job_path)
        .arg(&result_path)
        // transformers must not look for a hub or a GPU.
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .env("TRANSFORMERS_VERBOSITY", "error")
        .output()
        .context("running the transformers peer")?;
    if !output.status.success() {
        bail!(
            "transformers peer failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = std::fs::read_to_string(&result_path).context("reading the peer's result")?;
    Ok(serde_json::from_str(&text)?)
}

/// A test image: smooth gradients, hard edges (which make bicubic overshoot and clip) and
/// noise, deterministic in `seed`.
pub fn test_image(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    RgbImage::from_fn(width, height, |x, y| {
        let gx = (x * 255 / width.max(1)) as u8;
        let gy = (y * 255 / height.max(1)) as u8;
        let edge = if (x / 7 + y / 5) % 2 == 0 { 255 } else { 0 };
        let noise: u8 = rng.gen();
        image::Rgb([gx, edge, gy / 2 + noise / 2])
    })
}

/// Reads a little-endian f32 file.
pub fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The peer's output for the shared parity job, computed once per test binary.
pub struct PeerRun {
    pub dir: tempfile::TempDir,
    pub result: Value,
}

static PEER: OnceLock<std::result::Result<PeerRun, String>> = OnceLock::new();

/// Runs the shared parity job (built by `build`) once and hands every test the result.
pub fn shared_peer(build: fn(&Path) -> Result<Value>) -> Result<&'static PeerRun> {
    PEER.get_or_init(|| {
        let run = || -> Result<PeerRun> {
            let dir = tempfile::tempdir()?;
            let job = build(dir.path())?;
            let result = run_peer(dir.path(), &job)?;
            Ok(PeerRun { dir, result })
        };
        run().map_err(|e| format!("{e:#}"))
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Vision-token ids of the tiny checkpoints.
pub const VISION_START_ID: u32 = 3;
pub const IMAGE_PAD_ID: u32 = 4;
pub const VISION_END_ID: u32 = 5;

/// A tiny Qwen2.5-VL `config.json` in the nested layout transformers 5 writes.
pub fn tiny_config(model_type: &str) -> Value {
    json!({
        "model_type": model_type,
        "image_token_id": IMAGE_PAD_ID, "video_token_id": 6,
        "vision_start_token_id": VISION_START_ID, "vision_end_token_id": VISION_END_ID,
        "tie_word_embeddings": false,
        "text_config": {
            "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
            "num_hidden_layers": 1, "num_key_value_heads": 1, "rms_norm_eps": 1e-6,
            "rope_parameters": {"mrope_section": [1, 1, 2], "rope_theta": 1000000.0, "rope_type": "default"},
            "vocab_size": 8
        },
        "vision_config": {
            "depth": 2, "fullatt_block_indexes": [1], "hidden_size": 8, "intermediate_size": 16,
            "num_heads": 2, "out_hidden_size": 16, "window_size": 56, "in_channels": 3,
            "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2
        }
    })
}

/// A WordLevel `tokenizer.json` holding `special` as added tokens from id 3 on.
pub fn tiny_tokenizer(special: &[&str]) -> Value {
    let added: Vec<Value> = special
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": 3 + i, "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "a": 1, "b": 2}, "unk_token": "[UNK]"}
    })
}

/// Writes a safetensors file of zeros: `(name, dtype, shape)` per tensor.
pub fn write_safetensors(path: &Path, tensors: &[(&str, &str, &[usize])]) -> Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for (name, dtype, shape) in tensors {
        let bytes = match *dtype {
            "F32" => 4,
            "BF16" | "F16" => 2,
            other => bail!("test writer: dtype {other}"),
        } * shape.iter().product::<usize>();
        header.insert(
            name.to_string(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut text = serde_json::to_string(&header)?;
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + offset, 0);
    std::fs::write(path, out)?;
    Ok(())
}

/// The tensors of the tiny checkpoint (a few, enough for the folder checks).
pub const TINY_TENSORS: [(&str, &str, &[usize]); 4] = [
    ("model.language_model.embed_tokens.weight", "BF16", &[8, 16]),
    ("model.language_model.norm.weight", "BF16", &[16]),
    (
        "model.visual.patch_embed.proj.weight",
        "F32",
        &[8, 3, 2, 14, 14],
    ),
    ("lm_head.weight", "BF16", &[8, 16]),
];

/// Writes a tiny checkpoint folder: one `model.safetensors`, or two shards and an index.
pub fn write_checkpoint(dir: &Path, sharded: bool) -> Result<()> {
    let write_json = |name: &str, value: &Value| -> Result<()> {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(value)?)?;
        Ok(())
    };
    write_json("config.json", &tiny_config("qwen2_5_vl"))?;
    write_json(
        "preprocessor_config.json",
        &json!({"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14,
                "temporal_patch_size": 2, "merge_size": 2,
                "image_processor_type": "Qwen2VLImageProcessor"}),
    )?;
    write_json(
        "tokenizer.json",
        &tiny_tokenizer(&[
            "<|vision_start|>",
            "<|image_pad|>",
            "<|vision_end|>",
            "<|video_pad|>",
        ]),
    )?;
    write_json(
        "tokenizer_config.json",
        &json!({"chat_template": crate::parity::QWEN2_VL_CHAT_TEMPLATE}),
    )?;
    write_json(
        "generation_config.json",
        &json!({"do_sample": false, "eos_token_id": [1]}),
    )?;
    if sharded {
        let (first, second) = TINY_TENSORS.split_at(2);
        let names = [
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ];
        write_safetensors(&dir.join(names[0]), first)?;
        write_safetensors(&dir.join(names[1]), second)?;
        let mut map = serde_json::Map::new();
        for (t, name) in first
            .iter()
            .map(|t| (t, names[0]))
            .chain(second.iter().map(|t| (t, names[1])))
        {
            map.insert(t.0.to_string(), json!(name));
        }
        write_json(
            "model.safetensors.index.json",
            &json!({"metadata": {"total_size": 0}, "weight_map": map}),
        )?;
    } else {
        write_safetensors(&dir.join("model.safetensors"), &TINY_TENSORS)?;
    }
    Ok(())
}
