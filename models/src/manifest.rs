//! The model package manifest (`model.json`) and its validation.
//!
//! A model package is a folder:
//!
//! ```text
//! model.json                  this manifest
//! vision_encoder.onnx         pixel_values → image_features
//! embed_tokens.onnx           input_ids → inputs_embeds
//! decoder_model_merged.onnx   inputs_embeds, attention_mask, position_ids,
//!                             past_key_values.N.key/value → logits, present.N.key/value
//! tokenizer.json              Hugging Face tokenizers format
//! weights.safetensors         optional: lets training resume from a package
//! README.md                   optional: the model card
//! ```
//!
//! This is the onnx-community / onnxruntime-genai layout of Qwen2-VL-family exports. The
//! manifest names every graph and its I/O so that the runtime can check the ONNX files
//! against it; [`Manifest::load`] checks everything that can be checked without ONNX Runtime.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::{CoordFrame, ResizeMode};
use crate::grammar::Mode;

/// The manifest file name inside a package.
pub const MANIFEST_FILE: &str = "model.json";
/// The value of the `format` field.
pub const FORMAT: &str = "reticle-model";
/// The manifest version this build reads and writes.
pub const VERSION: u32 = 1;

/// One ONNX graph of the package and the I/O names it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    /// File name relative to the package folder.
    pub file: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// The three graphs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Graphs {
    pub vision_encoder: GraphSpec,
    pub embed_tokens: GraphSpec,
    pub decoder: GraphSpec,
}

/// Decoder dimensions the runtime needs to build the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderSpec {
    pub num_layers: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
    /// Image tokens the vision encoder produces for one image.
    pub num_image_tokens: usize,
    /// Longest sequence (image + prompt + answer) the model supports.
    pub max_positions: usize,
}

/// Image channels the vision encoder takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channels {
    Rgb,
    /// RGB plus a depth plane (metres, divided by `depth_max_m`).
    Rgbd,
}

impl Channels {
    pub fn count(&self) -> usize {
        match self {
            Channels::Rgb => 3,
            Channels::Rgbd => 4,
        }
    }
}

/// Image preprocessing: resize to `width × height`, scale to 0..1, normalise per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub resize: ResizeMode,
    pub channels: Channels,
    /// One value per channel.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Depth (metres) that maps to 1.0 before normalisation; RGB-D only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_max_m: Option<f32>,
}

/// Prompt construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// Text after the image tokens; `{instruction}` is replaced by the instruction.
    pub template: String,
    /// Whether the model answers with `<think>` first.
    pub mode: Mode,
}

/// Special tokens (as strings; ids come from the tokenizer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialTokens {
    pub bos: String,
    pub eos: String,
    pub pad: String,
    pub image: String,
}

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Manifest version, [`VERSION`] for this build.
    pub version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub graphs: Graphs,
    pub decoder: DecoderSpec,
    pub preprocess: Preprocess,
    pub coord_frame: CoordFrame,
    pub prompt: Prompt,
    pub special_tokens: SpecialTokens,
    pub max_new_tokens: usize,
    pub tokenizer: String,
    /// Optional trained weights (safetensors), for resuming training from a package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// Optional model card (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// ONNX opset the graphs were written with.
    pub opset: i64,
    /// Which tasks the model was trained for (informational).
    #[serde(default)]
    pub tasks: Vec<crate::dataset::Task>,
    /// Perception stages that run before the policy (none: the policy sees only pixels).
    #[serde(default, skip_serializing_if = "Perception::is_empty")]
    pub perception: Perception,
}

/// A file a package names but need not carry: found by name (in the package folder, then the
/// set-up cache) and checked against its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub file: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// The text reader a package uses: PP-OCR detection and recognition graphs and its knobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcrStage {
    pub detector: ModelFile,
    pub recognizer: ModelFile,
    #[serde(default)]
    pub config: crate::text::OcrConfig,
}

/// The perception stages of a package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perception {
    /// Read the text on the image (UI packages); spans reach the policy and the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrStage>,
}

impl Perception {
    pub fn is_empty(&self) -> bool {
        self.ocr.is_none()
    }
}

/// The standard decoder I/O names for `num_layers` layers.
pub fn decoder_io_names(num_layers: usize) -> (Vec<String>, Vec<String>) {
    let mut inputs = vec![
        "inputs_embeds".to_string(),
        "attention_mask".to_string(),
        "position_ids".to_string(),
    ];
    let mut outputs = vec!["logits".to_string()];
    for i in 0..num_layers {
        inputs.push(format!("past_key_values.{i}.key"));
        inputs.push(format!("past_key_values.{i}.value"));
        outputs.push(format!("present.{i}.key"));
        outputs.push(format!("present.{i}.value"));
    }
    (inputs, outputs)
}

/// The standard graph specs for a decoder of `num_layers` layers.
pub fn standard_graphs(num_layers: usize) -> Graphs {
    let (dec_in, dec_out) = decoder_io_names(num_layers);
    Graphs {
        vision_encoder: GraphSpec {
            file: "vision_encoder.onnx".into(),
            inputs: vec!["pixel_values".into()],
            outputs: vec!["image_features".into()],
        },
        embed_tokens: GraphSpec {
            file: "embed_tokens.onnx".into(),
            inputs: vec!["input_ids".into()],
            outputs: vec!["inputs_embeds".into()],
        },
        decoder: GraphSpec {
            file: "decoder_model_merged.onnx".into(),
            inputs: dec_in,
            outputs: dec_out,
        },
    }
}

/// The lowest ONNX opset the runtime accepts.
pub const MIN_OPSET: i64 = 17;

impl Manifest {
    /// Checks that a depth image is given exactly when the model reads one: an RGB model
    /// refuses a depth image rather than ignore it (the caller meant something by it), an
    /// RGB-D model requires one.
    pub fn check_depth_input(&self, depth_given: bool) -> Result<()> {
        match (self.preprocess.channels, depth_given) {
            (Channels::Rgb, true) => Err(Error::invalid(
                "depth",
                format!(
                    "model {} takes RGB input and does not use a depth image; leave the depth out",
                    self.name
                ),
            )),
            (Channels::Rgbd, false) => Err(Error::invalid(
                "depth",
                format!(
                    "model {} takes RGB-D input: a depth image is required",
                    self.name
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Reads and validates `dir/model.json` and checks that every file it names exists.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Manifest {
            path: dir.to_path_buf(),
            message: format!("cannot read {MANIFEST_FILE}: {e}"),
        })?;
        let m = Self::from_json(&text).map_err(|message| Error::Manifest {
            path: dir.to_path_buf(),
            message,
        })?;
        for file in m.files() {
            if !dir.join(&file).is_file() {
                return Err(Error::Manifest {
                    path: dir.to_path_buf(),
                    message: format!("missing file {file} (named in {MANIFEST_FILE})"),
                });
            }
        }
        Ok(m)
    }

    /// Parses and validates manifest JSON (without touching the file system). Never panics.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        // Read format and version first so that a manifest from a newer release gets a
        // version error rather than a confusing unknown-field error.
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{MANIFEST_FILE} is not JSON: {e}"))?;
        match raw.get("format").and_then(|v| v.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(format!("format is `{other}`, expected `{FORMAT}`")),
            None => return Err(format!("missing field `format` (expected `{FORMAT}`)")),
        }
        match raw.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(format!(
                    "manifest version {v} is not supported (this build reads version {VERSION})"
                ))
            }
            None => return Err("missing or non-integer field `version`".into()),
        }
        let m: Manifest = serde_json::from_value(raw).map_err(|e| e.to_string())?;
        m.validate()?;
        Ok(m)
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let d = &self.decoder;
        for (name, v) in [
            ("decoder.num_layers", d.num_layers),
            ("decoder.num_kv_heads", d.num_kv_heads),
            ("decoder.head_dim", d.head_dim),
            ("decoder.hidden_size", d.hidden_size),
            ("decoder.vocab_size", d.vocab_size),
            ("decoder.num_image_tokens", d.num_image_tokens),
            ("decoder.max_positions", d.max_positions),
            ("max_new_tokens", self.max_new_tokens),
        ] {
            if v == 0 {
                return Err(format!("`{name}` must be positive"));
            }
        }
        if d.num_image_tokens >= d.max_positions {
            return Err(format!(
                "`decoder.num_image_tokens` ({}) must be below `decoder.max_positions` ({})",
                d.num_image_tokens, d.max_positions
            ));
        }
        let p = &self.preprocess;
        if p.width == 0 || p.height == 0 || p.width > 8192 || p.height > 8192 {
            return Err(format!(
                "`preprocess` size {}x{} is outside 1..=8192",
                p.width, p.height
            ));
        }
        let c = p.channels.count();
        if p.mean.len() != c || p.std.len() != c {
            return Err(format!(
                "`preprocess.mean`/`std` need {c} values for {:?} (got {} and {})",
                p.channels,
                p.mean.len(),
                p.std.len()
            ));
        }
        if p.std.iter().any(|s| !s.is_finite() || *s <= 0.0)
            || p.mean.iter().any(|m| !m.is_finite())
        {
            return Err("`preprocess.std` must be positive and `mean` finite".into());
        }
        match (p.channels, p.depth_max_m) {
            (Channels::Rgbd, None) => return Err("RGB-D preprocessing needs `depth_max_m`".into()),
            // Checked whenever present: an overflowing value (1e39 → inf) would otherwise be
            // saved as `null` and read back differently (found by the `manifest` fuzz target).
            (_, Some(m)) if !(m.is_finite() && m > 0.0) => {
                return Err("`preprocess.depth_max_m` must be positive and finite".into())
            }
            _ => {}
        }
        if !self.prompt.template.contains("{instruction}") {
            return Err("`prompt.template` must contain `{instruction}`".into());
        }
        if self.opset < MIN_OPSET {
            return Err(format!(
                "opset {} is below the minimum {MIN_OPSET}",
                self.opset
            ));
        }
        if let Some(ocr) = &self.perception.ocr {
            for (name, f) in [("detector", &ocr.detector), ("recognizer", &ocr.recognizer)] {
                if f.file.is_empty() || Path::new(&f.file).components().count() != 1 {
                    return Err(format!(
                        "`perception.ocr.{name}.file` `{}` must be a bare file name",
                        f.file
                    ));
                }
                if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!(
                        "`perception.ocr.{name}.sha256` must be 64 hex digits (got `{}`)",
                        f.sha256
                    ));
                }
            }
            ocr.config
                .validate()
                .map_err(|m| format!("`perception.ocr.config`: {m}"))?;
        }
        let std = standard_graphs(d.num_layers);
        for (name, got, want) in [
            (
                "vision_encoder",
                &self.graphs.vision_encoder,
                &std.vision_encoder,
            ),
            ("embed_tokens", &self.graphs.embed_tokens, &std.embed_tokens),
            ("decoder", &self.graphs.decoder, &std.decoder),
        ] {
            if got.inputs != want.inputs {
                return Err(format!(
                    "graph `{name}` inputs {:?} differ from the standard layout {:?}",
                    got.inputs, want.inputs
                ));
            }
            if got.outputs != want.outputs {
                return Err(format!(
                    "graph `{name}` outputs {:?} differ from the standard layout {:?}",
                    got.outputs, want.outputs
                ));
            }
            if got.file.is_empty() || got.file.contains("..") || Path::new(&got.file).is_absolute()
            {
                return Err(format!(
                    "graph `{name}` file `{}` must be a plain relative name",
                    got.file
                ));
            }
        }
        Ok(())
    }

    /// Every file the manifest names, relative to the package folder.
    pub fn files(&self) -> Vec<String> {
        let mut f = vec![
            self.graphs.vision_encoder.file.clone(),
            self.graphs.embed_tokens.file.clone(),
            self.graphs.decoder.file.clone(),
            self.tokenizer.clone(),
        ];
        f.extend(self.weights.clone());
        f.extend(self.card.clone());
        f
    }

    /// Writes `dir/model.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        self.validate().map_err(|message| Error::Manifest {
            path: dir.to_path_buf(),
            message,
        })?;
        let path = dir.join(MANIFEST_FILE);
        let text = serde_json::to_string_pretty(self)?;
        crate::fsutil::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            name: "micro".into(),
            description: String::new(),
            graphs: standard_graphs(2),
            decoder: DecoderSpec {
                num_layers: 2,
                num_kv_heads: 2,
                head_dim: 16,
                hidden_size: 32,
                vocab_size: 300,
                num_image_tokens: 16,
                max_positions: 128,
            },
            preprocess: Preprocess {
                width: 64,
                height: 40,
                resize: ResizeMode::Stretch,
                channels: Channels::Rgb,
                mean: vec![0.5; 3],
                std: vec![0.25; 3],
                depth_max_m: None,
            },
            coord_frame: CoordFrame::Norm1000,
            prompt: Prompt {
                template: "{instruction}".into(),
                mode: Mode::Direct,
            },
            special_tokens: SpecialTokens {
                bos: "<bos>".into(),
                eos: "<eos>".into(),
                pad: "<pad>".into(),
                image: "<image>".into(),
            },
            max_new_tokens: 24,
            tokenizer: "tokenizer.json".into(),
            weights: None,
            card: None,
            opset: 17,
            tasks: vec![],
            perception: Default::default(),
        }
    }

    fn check_err(edit: impl Fn(&mut serde_json::Value), needle: &str) {
        let mut v = serde_json::to_value(sample()).unwrap();
        edit(&mut v);
        let err = Manifest::from_json(&v.to_string()).unwrap_err();
        assert!(err.contains(needle), "expected `{needle}` in `{err}`");
    }

    #[test]
    fn valid_manifest_round_trips() {
        let text = serde_json::to_string(&sample()).unwrap();
        assert_eq!(Manifest::from_json(&text).unwrap(), sample());
    }

    #[test]
    fn errors_name_the_problem() {
        check_err(
            |v| v["version"] = 2.into(),
            "manifest version 2 is not supported",
        );
        check_err(|v| v["format"] = "onnx".into(), "format is `onnx`");
        check_err(
            |v| v["decoder"]["num_layers"] = 0.into(),
            "`decoder.num_layers` must be positive",
        );
        check_err(
            |v| v["graphs"]["decoder"]["inputs"][0] = "embeds".into(),
            "graph `decoder` inputs",
        );
        check_err(
            |v| v["preprocess"]["mean"] = serde_json::json!([0.5]),
            "need 3 values",
        );
        check_err(|v| v["prompt"]["template"] = "hi".into(), "{instruction}");
        check_err(|v| v["opset"] = 9.into(), "opset 9");
        check_err(
            |v| v["preprocess"]["depth_max_m"] = serde_json::json!(1e39),
            "depth_max_m` must be positive and finite",
        );
        check_err(|v| v["extra"] = 1.into(), "unknown field `extra`");
        check_err(
            |v| v["graphs"]["embed_tokens"]["file"] = "../x.onnx".into(),
            "plain relative name",
        );
        assert!(Manifest::from_json("{").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn load_reports_missing_file() -> crate::Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        sample().save(dir.path())?;
        for f in [
            "vision_encoder.onnx",
            "embed_tokens.onnx",
            "decoder_model_merged.onnx",
        ] {
            std::fs::write(dir.path().join(f), b"x").map_err(|e| Error::io(f, e))?;
        }
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing file tokenizer.json"), "{err}");
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").map_err(|e| Error::io("t", e))?;
        assert_eq!(Manifest::load(dir.path())?, sample());
        Ok(())
    }
}
