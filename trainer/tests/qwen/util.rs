//! The torch venv's Python, the one `transformers` peer run per test binary, the test image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use anyhow::{bail, ensure, Context, Result};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use reticle_models::dataset::{write_jsonl, Record, Target, Task};
use reticle_models::geometry::BBox;
use reticle_models::qwen::template::expand_image_pads;
use reticle_models::qwen::{ChatTemplate, CheckpointDir, ImageProcessor};
use reticle_models::tokenizer::TextTokenizer;
use serde_json::{json, Value};
use tch::Tensor;

/// libtorch's random generator is one per process, and the tests of this binary run in
/// parallel threads. A test that replays a seed to get the same dropout masks twice holds
/// this for writing ([`torch_rng_alone`]); every other test holds it for reading
/// ([`torch_rng_shared`]), so none draws between that test's reseed and its forward pass.
static TORCH_RNG: RwLock<()> = RwLock::new(());

/// For a test that draws from libtorch's generator (model init, sampling, dropout).
pub fn torch_rng_shared() -> RwLockReadGuard<'static, ()> {
    TORCH_RNG.read().unwrap_or_else(|e| e.into_inner())
}

/// For a test whose result depends on replaying a seed.
pub fn torch_rng_alone() -> RwLockWriteGuard<'static, ()> {
    TORCH_RNG.write().unwrap_or_else(|e| e.into_inner())
}

/// Greedy tokens generated on each side.
pub const MAX_NEW_TOKENS: usize = 8;
pub const INSTRUCTION: &str = "click the blue button";

/// The checkpoints the peer builds: `(model_type, tied embeddings, max_shard_size)`.
pub const FAMILIES: [(&str, bool, Option<&str>); 2] = [
    ("qwen2_vl", true, None),
    ("qwen2_5_vl", false, Some("100KB")),
];

/// `$RETICLE_TORCH_VENV/bin/python` (else `~/.cache/reticle/torch-2.11.0`), which has torch
/// and transformers. A missing venv fails the test: `scripts/setup.sh all`.
pub fn torch_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("RETICLE_TORCH_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(std::env::var_os("HOME").context("no HOME")?)
            .join(".cache/reticle/torch-2.11.0"),
    };
    let python = venv.join("bin/python");
    if !python.is_file() {
        bail!(
            "{} is missing: run `scripts/setup.sh all` (the torch venv with transformers)",
            python.display()
        );
    }
    Ok(python)
}

/// A test image (150×90, resized by the processor to 140×84): gradients, hard edges, noise.
pub fn test_image() -> RgbImage {
    let (width, height) = (150, 90);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    RgbImage::from_fn(width, height, |x, y| {
        let edge = if (x / 9 + y / 6) % 2 == 0 { 230 } else { 20 };
        let noise: u8 = rng.gen();
        image::Rgb([
            (x * 255 / width) as u8,
            edge,
            (y * 127 / height) as u8 + noise / 2,
        ])
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

/// One checkpoint the peer made and what it computed.
pub struct PeerCheckpoint {
    pub dir: PathBuf,
    pub image: PathBuf,
    pub logits: PathBuf,
    pub features: PathBuf,
    pub pixel_values: PathBuf,
    pub result: Value,
}

pub struct PeerRun {
    _dir: tempfile::TempDir,
    pub checkpoints: Vec<PeerCheckpoint>,
    pub seconds: f64,
}

static PEER: OnceLock<std::result::Result<PeerRun, String>> = OnceLock::new();

/// Runs the peer once per test binary (both families in one Python process).
pub fn peer() -> Result<&'static PeerRun> {
    PEER.get_or_init(|| run_peer().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn run_peer() -> Result<PeerRun> {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir()?;
    let image = dir.path().join("image.png");
    test_image().save(&image)?;
    let mut jobs = Vec::new();
    let mut checkpoints = Vec::new();
    for (i, (model_type, tie, shard)) in FAMILIES.iter().enumerate() {
        let ck = PeerCheckpoint {
            dir: dir.path().join(model_type),
            image: image.clone(),
            logits: dir.path().join(format!("{model_type}.logits.f32")),
            features: dir.path().join(format!("{model_type}.features.f32")),
            pixel_values: dir.path().join(format!("{model_type}.pixel_values.f32")),
            result: Value::Null,
        };
        jobs.push(json!({
            "model_type": model_type, "dir": ck.dir, "image": image, "instruction": INSTRUCTION,
            "tie_word_embeddings": tie, "max_shard_size": shard, "seed": i + 1,
            "logits_out": ck.logits, "features_out": ck.features, "pixel_values_out": ck.pixel_values,
        }));
        checkpoints.push(ck);
    }
    let job = json!({"max_new_tokens": MAX_NEW_TOKENS, "checkpoints": jobs});
    let job_path = dir.path().join("job.json");
    let result_path = dir.path().join("result.json");
    std::fs::write(&job_path, serde_json::to_vec_pretty(&job)?)?;
    // From the workspace root, so that other crates' tests can include this file too.
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../trainer/tests/qwen/transformers_peer.py");
    let output = Command::new(torch_python()?)
        .arg(&script)
        .arg(&job_path)
        .arg(&result_path)
        // transformers must not look for a hub.
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .env("TRANSFORMERS_VERBOSITY", "error")
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .context("running the transformers peer")?;
    if !output.status.success() {
        bail!(
            "transformers peer failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let result: Value = serde_json::from_str(
        &std::fs::read_to_string(&result_path).context("reading the peer's result")?,
    )?;
    for (ck, r) in checkpoints
        .iter_mut()
        .zip(result["checkpoints"].as_array().context("no checkpoints")?)
    {
        ck.result = r.clone();
    }
    Ok(PeerRun {
        _dir: dir,
        checkpoints,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Copies a checkpoint folder (to damage the copy).
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

/// A checkpoint and the model inputs reticle prepares for the test prompt.
pub struct Inputs {
    pub ckpt: CheckpointDir,
    pub ids: Vec<i64>,
    pub pixel_values: Tensor,
    pub grid: [i64; 3],
}

/// Opens the peer's checkpoint and prepares the inputs with reticle's own processor, chat
/// template and tokenizer, each required equal to what the peer fed `transformers`.
pub fn reticle_inputs(peer_ck: &PeerCheckpoint) -> Result<Inputs> {
    let theirs = &peer_ck.result;
    let ckpt = CheckpointDir::open(&peer_ck.dir)?;
    let image = reticle_models::imageio::open(&peer_ck.image)?.to_rgb8();
    let processed = ImageProcessor::new(ckpt.processor.clone()).process(&image)?;
    ensure!(
        processed.pixel_values == read_f32(&peer_ck.pixel_values)?,
        "pixel_values differ from transformers'"
    );
    let template = ChatTemplate::new(ckpt.chat_template.as_deref().context("no chat template")?)?;
    let prompt = template.render_image_prompt(INSTRUCTION)?;
    ensure!(
        prompt == theirs["prompt"].as_str().unwrap_or(""),
        "prompt differs: {prompt:?}"
    );
    let text = expand_image_pads(&prompt, &[processed.n_image_tokens])?;
    let ids: Vec<i64> = TextTokenizer::load(&ckpt.tokenizer)?
        .encode(&text)?
        .into_iter()
        .map(i64::from)
        .collect();
    let their_ids: Vec<i64> = serde_json::from_value(theirs["input_ids"].clone())?;
    ensure!(
        ids == their_ids,
        "input_ids differ:\n ours   {ids:?}\n theirs {their_ids:?}"
    );
    let grid = processed.grid_thw.map(|d| d as i64);
    let their_grid: Vec<[i64; 3]> = serde_json::from_value(theirs["image_grid_thw"].clone())?;
    ensure!(
        their_grid == [grid],
        "image_grid_thw {grid:?} vs {their_grid:?}"
    );
    let pixel_values = Tensor::from_slice(&processed.pixel_values)
        .view([processed.n_patches as i64, processed.patch_dim as i64]);
    Ok(Inputs {
        ckpt,
        ids,
        pixel_values,
        grid,
    })
}

/// A checkpoint of the peer (`FAMILIES[family]`), its tokenizer taught the answer grammar.
pub fn grammar_checkpoint_of(dir: &Path, family: usize) -> Result<PathBuf> {
    let run = peer()?;
    let out = dir.join(FAMILIES[family].0);
    copy_dir(&run.checkpoints[family].dir, &out)?;
    let path = out.join("tokenizer.json");
    let mut tk: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    // `tokenizers` gives added tokens the ids after the model's vocabulary in order, so
    // the new ones are added tokens after the special ones, never words of the vocabulary.
    let n_words = tk["model"]["vocab"]
        .as_object()
        .context("tokenizer.json has no WordLevel vocab")?
        .len();
    let added = tk["added_tokens"]
        .as_array_mut()
        .context("no added_tokens")?;
    let mut next = added.len() + n_words;
    let digits = (0..10).map(|d| d.to_string());
    let grammar = ["<answer>", "</answer>", "<think>", "</think>"].map(String::from);
    for t in digits.chain(grammar) {
        added.push(
            json!({"id": next, "content": t, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": false}),
        );
        next += 1;
    }
    ensure!(
        next <= 96,
        "the grammar tokens overflow the vocabulary ({next})"
    );
    tk["decoder"] = json!({"type": "Fuse"});
    std::fs::write(&path, serde_json::to_vec_pretty(&tk)?)?;
    Ok(out)
}

/// The Qwen2.5-VL checkpoint (untied, sharded, window attention) with the grammar.
pub fn grammar_checkpoint(dir: &Path) -> Result<PathBuf> {
    grammar_checkpoint_of(dir, 1)
}

/// Two click records on 150×90 images (the processor resizes them to 140×84).
pub fn dataset(dir: &Path) -> Result<PathBuf> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let image = test_image();
    image.save(data.join("a.png"))?;
    image::imageops::flip_horizontal(&image).save(data.join("b.png"))?;
    let record = |id: &str, file: &str, instruction: &str, bbox: BBox| Record {
        id: id.into(),
        image: data.join(file),
        depth: None,
        camera: None,
        instruction: instruction.into(),
        task: Task::Click,
        target: Target::Box(bbox),
        cot: None,
        meta: None,
    };
    let records = [
        record(
            "a",
            "a.png",
            "click the blue button",
            BBox::new(20.0, 10.0, 60.0, 40.0),
        ),
        record(
            "b",
            "b.png",
            "click the save file",
            BBox::new(90.0, 50.0, 140.0, 80.0),
        ),
    ];
    let path = data.join("data.jsonl");
    write_jsonl(&path, &records)?;
    Ok(path)
}

pub fn config(checkpoint: &Path, data: &Path, extra: &str) -> String {
    format!(
        "[model]\narchitecture = \"qwen2-vl\"\ncheckpoint = {checkpoint:?}\n\
         [data]\ntrain = [{data:?}]\neval = [{data:?}]\n\
         [lora]\nrank = 4\nalpha = 8.0\ndropout = 0.0\n{extra}\n",
        checkpoint = checkpoint.display().to_string(),
        data = data.display().to_string(),
    )
}
