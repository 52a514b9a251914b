//! Tiny model packages for the tests: a tokenizer trained here, a manifest, and three ONNX
//! graphs written by `runtime/tests/fixtures/tiny_package.py` with the set-up's Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use reticle_models::geometry::{CoordFrame, ResizeMode};
use reticle_models::grammar::Mode;
use reticle_models::manifest::{
    standard_graphs, Architecture, Channels, DecoderSpec, Manifest, Preprocess, Prompt,
    SpecialTokens, FORMAT, VERSION,
};
use reticle_models::tokenizer::TextTokenizer;

pub const INSTRUCTION: &str = "click the save button";
pub const LAYERS: usize = 2;
pub const IMAGE_TOKENS: usize = 4;
pub const VOCAB: usize = 300;

/// The set-up's Python with onnx and numpy. Fails (never skips) when it is missing.
pub fn python() -> PathBuf {
    let cache = std::env::var_os("RETICLE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle")))
        .unwrap_or_else(|| PathBuf::from(".cache/reticle"));
    let py = cache.join("tools-venv/bin/python");
    assert!(
        py.is_file(),
        "{} is missing: run `scripts/setup.sh all` (it installs the Python tools the runtime \
         tests use to write ONNX fixtures)",
        py.display()
    );
    py
}

/// What to put in a package.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The completion the decoder is scripted to write for [`INSTRUCTION`].
    pub answer: String,
    pub mode: Mode,
    /// `{file: {standard name: new name}}` renames inside the ONNX graphs.
    pub rename: serde_json::Value,
    pub input_ids_int32: bool,
}

impl Default for Fixture {
    fn default() -> Self {
        Self {
            answer: "<answer>(500,250)</answer>".into(),
            mode: Mode::Direct,
            rename: serde_json::json!({}),
            input_ids_int32: false,
        }
    }
}

pub fn tokenizer() -> Result<TextTokenizer> {
    let corpus = [
        INSTRUCTION,
        "<answer>(500,250)</answer>",
        "<think>the button is at (100,900)</think><answer>[100,200,300,400]</answer>",
        "0 1 2 3 4 5 6 7 8 9 (12,34) [1,2,3,4]",
    ];
    Ok(TextTokenizer::train(corpus.iter().cycle().take(64), VOCAB)?)
}

pub fn manifest(mode: Mode) -> Manifest {
    Manifest {
        format: FORMAT.into(),
        version: VERSION,
        name: "tiny".into(),
        description: "runtime test fixture".into(),
        architecture: Architecture::ReticleVlm,
        graphs: Some(standard_graphs(LAYERS)),
        pointer: None,
        qwen: None,
        decoder: Some(DecoderSpec {
            num_layers: LAYERS,
            num_kv_heads: 2,
            head_dim: 4,
            hidden_size: 8,
            vocab_size: VOCAB,
            num_image_tokens: IMAGE_TOKENS,
            max_positions: 128,
            position_scheme: Default::default(),
        }),
        preprocess: Preprocess {
            width: 8,
            height: 8,
            resize: ResizeMode::Stretch,
            channels: Channels::Rgb,
            mean: vec![0.5; 3],
            std: vec![0.5; 3],
            depth_max_m: None,
        },
        coord_frame: CoordFrame::Norm1000,
        prompt: Some(Prompt {
            template: "{instruction}".into(),
            mode,
        }),
        special_tokens: Some(SpecialTokens {
            bos: "<bos>".into(),
            eos: "<eos>".into(),
            pad: "<pad>".into(),
            image: "<image>".into(),
        }),
        max_new_tokens: Some(64),
        tokenizer: Some("tokenizer.json".into()),
        weights: None,
        card: None,
        opset: 17,
        tasks: vec![],
        perception: Default::default(),
    }
}

/// Writes a complete package into `dir` and returns its manifest.
pub fn write_package(dir: &Path, fx: &Fixture) -> Result<Manifest> {
    let tk = tokenizer()?;
    tk.save(&dir.join("tokenizer.json"))?;
    let m = manifest(fx.mode);
    m.save(dir)?;
    let prompt_len = 1 + tk.encode(INSTRUCTION)?.len();
    let tokens = tk.encode(&fx.answer)?;
    let spec = serde_json::json!({
        "out": dir,
        "channels": 3, "height": 8, "width": 8,
        "num_image_tokens": IMAGE_TOKENS,
        "hidden": 8, "kv_heads": 2, "head_dim": 4,
        "vocab": VOCAB, "layers": LAYERS, "max_positions": 128,
        // The logits at the last prompt position predict the first answer token.
        "start": IMAGE_TOKENS + prompt_len - 1,
        "tokens": tokens,
        "default_token": tk.token_id("<eos>")?,
        "rename": fx.rename,
        "input_ids_int32": fx.input_ids_int32,
    });
    let spec_path = dir.join("fixture.json");
    std::fs::write(&spec_path, spec.to_string())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny_package.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(&spec_path)
        .output()
        .context("running the fixture script")?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_file(&spec_path)?;
    Ok(m)
}

/// A fresh package in a temporary folder.
pub fn package(fx: &Fixture) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    write_package(dir.path(), fx)?;
    Ok(dir)
}

/// A 200×100 test image.
pub fn image() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 100, |x, y| {
        image::Rgb([(x % 256) as u8, (y * 2) as u8, 90])
    }))
}
