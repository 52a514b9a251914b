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
//! This is the onnx-community / onnxruntime-genai layout of Qwen2-VL-family exports (the
//! `reticle-vlm` architecture, the default). A `pointer` package holds one graph instead,
//! `pointer.onnx`, described by the manifest's `pointer` section ([`crate::pointer`]), and
//! no tokenizer. The manifest names every graph and its I/O so that the runtime can check the
//! ONNX files against it; [`Manifest::load`] checks everything that can be checked without
//! ONNX Runtime.

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
    /// How the decoder's `position_ids` are laid out (absent: `linear`).
    #[serde(default, skip_serializing_if = "PositionScheme::is_linear")]
    pub position_scheme: PositionScheme,
}

/// The decoder's position layout: the runtime's decode loop builds `position_ids` by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionScheme {
    /// `position_ids [B, T]`: one position per token, counting from 0 (ReticleVLM).
    #[default]
    Linear,
    /// `position_ids [3, B, T]`: Qwen2-VL's M-RoPE — temporal, row and column rows; image
    /// tokens take their merged grid's positions, text counts on from the largest
    /// (`reticle_models::qwen::rope::rope_index`).
    Mrope,
}

impl PositionScheme {
    pub fn is_linear(&self) -> bool {
        *self == PositionScheme::Linear
    }
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

/// Which policy a package holds; chosen by name in `model.json` (`"architecture"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Architecture {
    /// Three graphs (vision encoder, token embeddings, KV-cache decoder) that write the
    /// answer as text. The default: packages written before the field existed are this.
    #[default]
    #[serde(rename = "reticle-vlm")]
    ReticleVlm,
    /// One graph (`pointer.onnx`) that scores image patches and text candidates
    /// ([`crate::pointer`]).
    #[serde(rename = "pointer")]
    Pointer,
    /// A Hugging Face Qwen2-VL or Qwen2.5-VL checkpoint exported to the onnx-community
    /// layout: the three graphs of `reticle-vlm`, a vision encoder that also takes
    /// `image_grid_thw`, M-RoPE positions, and the checkpoint's own processor, chat template
    /// and tokenizer (the `qwen` section).
    #[serde(rename = "qwen2-vl")]
    Qwen2Vl,
}

impl Architecture {
    /// Every architecture, in the order the error messages list them.
    pub const ALL: [Architecture; 3] = [
        Architecture::ReticleVlm,
        Architecture::Pointer,
        Architecture::Qwen2Vl,
    ];

    /// The name in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::ReticleVlm => "reticle-vlm",
            Architecture::Pointer => "pointer",
            Architecture::Qwen2Vl => "qwen2-vl",
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
                format!("unknown architecture `{s}` (known: {})", known.join(", "))
            })
    }
}

// By hand rather than derived, so that an unknown name gets the message above (serde's
// would say "unknown variant").
impl<'de> Deserialize<'de> for Architecture {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// `model.json`.
///
/// The sections from `graphs` to `tokenizer` belong to ReticleVLM packages (required there,
/// refused elsewhere: read them through [`Manifest::vlm`]); `pointer` belongs to pointer
/// packages ([`Manifest::pointer_spec`]).
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
    /// Which policy the package holds (absent: `reticle-vlm`).
    #[serde(default)]
    pub architecture: Architecture,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphs: Option<Graphs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<DecoderSpec>,
    /// The pointer graph and its text inputs (pointer packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<crate::pointer::PointerSpec>,
    /// The checkpoint files a `qwen2-vl` package carries (its processor, chat template and
    /// config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qwen: Option<QwenSpec>,
    pub preprocess: Preprocess,
    pub coord_frame: CoordFrame,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Prompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_tokens: Option<SpecialTokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<String>,
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

/// The detection graph shipped by `rapidocr==3.10.0` (PP-OCRv6 small): file, SHA-256.
pub const PP_OCR_V6_DETECTOR: (&str, &str) = (
    "PP-OCRv6_det_small.onnx",
    "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
);
/// The recognition graph shipped by `rapidocr==3.10.0` (PP-OCRv6 small): file, SHA-256.
pub const PP_OCR_V6_RECOGNIZER: (&str, &str) = (
    "PP-OCRv6_rec_small.onnx",
    "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
);

impl OcrStage {
    /// The set-up's reader (rapidocr 3.10's PP-OCRv6 small) with the default knobs.
    pub fn pp_ocr_v6() -> Self {
        let file = |(file, sha256): (&str, &str)| ModelFile {
            file: file.into(),
            sha256: sha256.into(),
        };
        Self {
            detector: file(PP_OCR_V6_DETECTOR),
            recognizer: file(PP_OCR_V6_RECOGNIZER),
            config: Default::default(),
        }
    }
}

/// The perception stages of a package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perception {
    /// Read the text on the image (UI packages); spans reach the policy and the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrStage>,
    /// Name the icons on the image (`crate::icons`); their spans join the read text. Needs
    /// `ocr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<crate::icons::IconStage>,
}

impl Perception {
    pub fn is_empty(&self) -> bool {
        self.ocr.is_none() && self.icons.is_none()
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

/// The `qwen` section: the checkpoint's own files, copied into the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QwenSpec {
    /// The checkpoint's `config.json` (family, vision tokens, merge size).
    pub config: String,
    /// `preprocessor_config.json` (`Qwen2VLImageProcessor`: min/max pixels, mean, std).
    pub preprocessor: String,
    /// The chat template (Jinja source).
    pub chat_template: String,
    /// Whether the prompt asks for `<think>` first (as the model was fine-tuned).
    pub mode: Mode,
}

/// The graph specs of a `qwen2-vl` package: the standard ones, with the vision encoder
/// taking `pixel_values [n_patches, C·T·P·P]` and `image_grid_thw [1, 3]`.
pub fn qwen_graphs(num_layers: usize) -> Graphs {
    let mut g = standard_graphs(num_layers);
    g.vision_encoder.inputs.push("image_grid_thw".into());
    g
}

/// The sections of a `qwen2-vl` package, borrowed from its manifest ([`Manifest::qwen`]).
#[derive(Debug, Clone, Copy)]
pub struct QwenParts<'a> {
    pub graphs: &'a Graphs,
    pub decoder: &'a DecoderSpec,
    pub spec: &'a QwenSpec,
    pub max_new_tokens: usize,
    pub tokenizer: &'a str,
}

/// The sections of a ReticleVLM package, borrowed from its manifest ([`Manifest::vlm`]).
#[derive(Debug, Clone, Copy)]
pub struct VlmParts<'a> {
    pub graphs: &'a Graphs,
    pub decoder: &'a DecoderSpec,
    pub prompt: &'a Prompt,
    pub special_tokens: &'a SpecialTokens,
    pub max_new_tokens: usize,
    pub tokenizer: &'a str,
}

/// A file the package names must be a plain relative name inside the package folder.
fn check_file_name(what: &str, file: &str) -> std::result::Result<(), String> {
    if file.is_empty() || file.contains("..") || Path::new(file).is_absolute() {
        return Err(format!("{what} `{file}` must be a plain relative name"));
    }
    Ok(())
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

    /// The ReticleVLM sections, or an error naming the first one missing (or saying that
    /// the package holds another architecture).
    pub fn vlm(&self) -> Result<VlmParts<'_>> {
        self.vlm_parts().map_err(|m| Error::invalid("manifest", m))
    }

    /// The sections every text-writing package has (graphs, decoder, token budget,
    /// tokenizer), for a package of architecture `arch`; an error names the first one missing.
    fn text_sections(
        &self,
        arch: Architecture,
    ) -> std::result::Result<(&Graphs, &DecoderSpec, usize, &str), String> {
        if self.architecture != arch {
            return Err(format!(
                "model {} is a `{}` package, not a `{arch}` one",
                self.name, self.architecture
            ));
        }
        let missing = |field: &str| format!("a `{arch}` package needs `{field}`");
        Ok((
            self.graphs.as_ref().ok_or_else(|| missing("graphs"))?,
            self.decoder.as_ref().ok_or_else(|| missing("decoder"))?,
            self.max_new_tokens
                .ok_or_else(|| missing("max_new_tokens"))?,
            self.tokenizer
                .as_deref()
                .ok_or_else(|| missing("tokenizer"))?,
        ))
    }

    fn vlm_parts(&self) -> std::result::Result<VlmParts<'_>, String> {
        let (graphs, decoder, max_new_tokens, tokenizer) =
            self.text_sections(Architecture::ReticleVlm)?;
        let missing = |field: &str| format!("a `reticle-vlm` package needs `{field}`");
        Ok(VlmParts {
            graphs,
            decoder,
            prompt: self.prompt.as_ref().ok_or_else(|| missing("prompt"))?,
            special_tokens: self
                .special_tokens
                .as_ref()
                .ok_or_else(|| missing("special_tokens"))?,
            max_new_tokens,
            tokenizer,
        })
    }

    /// The pointer section, or an error saying the package holds another architecture.
    pub fn pointer_spec(&self) -> Result<&crate::pointer::PointerSpec> {
        match (self.architecture, &self.pointer) {
            (Architecture::Pointer, Some(p)) => Ok(p),
            (Architecture::Pointer, None) => Err(Error::invalid(
                "manifest",
                "a `pointer` package needs `pointer`",
            )),
            (a, _) => Err(Error::invalid(
                "manifest",
                format!(
                    "model {} is a `{a}` package, not a `pointer` one",
                    self.name
                ),
            )),
        }
    }

    /// The `qwen2-vl` sections, or an error naming the first one missing (or saying that the
    /// package holds another architecture).
    pub fn qwen(&self) -> Result<QwenParts<'_>> {
        self.qwen_parts().map_err(|m| Error::invalid("manifest", m))
    }

    fn qwen_parts(&self) -> std::result::Result<QwenParts<'_>, String> {
        let (graphs, decoder, max_new_tokens, tokenizer) =
            self.text_sections(Architecture::Qwen2Vl)?;
        Ok(QwenParts {
            graphs,
            decoder,
            spec: self
                .qwen
                .as_ref()
                .ok_or("a `qwen2-vl` package needs `qwen`")?,
            max_new_tokens,
            tokenizer,
        })
    }

    /// Checks internal consistency.
    pub fn validate(&self) -> std::result::Result<(), String> {
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
        if self.opset < MIN_OPSET {
            return Err(format!(
                "opset {} is below the minimum {MIN_OPSET}",
                self.opset
            ));
        }
        let check_file = |name: &str, f: &ModelFile| {
            if f.file.is_empty() || Path::new(&f.file).components().count() != 1 {
                return Err(format!(
                    "`perception.{name}.file` `{}` must be a bare file name",
                    f.file
                ));
            }
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "`perception.{name}.sha256` must be 64 hex digits (got `{}`)",
                    f.sha256
                ));
            }
            Ok(())
        };
        if let Some(ocr) = &self.perception.ocr {
            check_file("ocr.detector", &ocr.detector)?;
            check_file("ocr.recognizer", &ocr.recognizer)?;
            ocr.config
                .validate()
                .map_err(|m| format!("`perception.ocr.config`: {m}"))?;
        }
        if let Some(icons) = &self.perception.icons {
            if self.perception.ocr.is_none() {
                return Err("`perception.icons` needs `perception.ocr` (icons are found beside the read text)".into());
            }
            check_file("icons.model", &icons.model)?;
            icons.validate()?;
        }
        match self.architecture {
            Architecture::ReticleVlm => self.validate_vlm(),
            Architecture::Pointer => self.validate_pointer(),
            Architecture::Qwen2Vl => self.validate_qwen(),
        }
    }

    /// The decoder's sizes must be positive, and the graphs the standard `want` layout.
    fn check_decoder_graphs(
        d: &DecoderSpec,
        graphs: &Graphs,
        want: &Graphs,
        max_new_tokens: usize,
    ) -> std::result::Result<(), String> {
        for (name, n) in [
            ("decoder.num_layers", d.num_layers),
            ("decoder.num_kv_heads", d.num_kv_heads),
            ("decoder.head_dim", d.head_dim),
            ("decoder.hidden_size", d.hidden_size),
            ("decoder.vocab_size", d.vocab_size),
            ("decoder.num_image_tokens", d.num_image_tokens),
            ("decoder.max_positions", d.max_positions),
            ("max_new_tokens", max_new_tokens),
        ] {
            if n == 0 {
                return Err(format!("`{name}` must be positive"));
            }
        }
        if d.num_image_tokens >= d.max_positions {
            return Err(format!(
                "`decoder.num_image_tokens` ({}) must be below `decoder.max_positions` ({})",
                d.num_image_tokens, d.max_positions
            ));
        }
        for (name, got, want) in [
            (
                "vision_encoder",
                &graphs.vision_encoder,
                &want.vision_encoder,
            ),
            ("embed_tokens", &graphs.embed_tokens, &want.embed_tokens),
            ("decoder", &graphs.decoder, &want.decoder),
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
            check_file_name(&format!("graph `{name}` file"), &got.file)?;
        }
        Ok(())
    }

    fn validate_qwen(&self) -> std::result::Result<(), String> {
        for (field, present) in [
            ("pointer", self.pointer.is_some()),
            ("prompt", self.prompt.is_some()),
            ("special_tokens", self.special_tokens.is_some()),
        ] {
            if present {
                return Err(format!(
                    "a `qwen2-vl` package has no `{field}` section (its prompt and tokens come from the checkpoint's files in `qwen`)"
                ));
            }
        }
        let q = self.qwen_parts()?;
        if q.decoder.position_scheme != PositionScheme::Mrope {
            return Err("a `qwen2-vl` package needs `decoder.position_scheme` `mrope`".into());
        }
        if self.preprocess.channels != Channels::Rgb {
            return Err(
                "a `qwen2-vl` package takes RGB images (`preprocess.channels` `rgb`)".into(),
            );
        }
        Self::check_decoder_graphs(
            q.decoder,
            q.graphs,
            &qwen_graphs(q.decoder.num_layers),
            q.max_new_tokens,
        )?;
        check_file_name("tokenizer", q.tokenizer)?;
        check_file_name("qwen.config", &q.spec.config)?;
        check_file_name("qwen.preprocessor", &q.spec.preprocessor)?;
        check_file_name("qwen.chat_template", &q.spec.chat_template)
    }

    fn validate_vlm(&self) -> std::result::Result<(), String> {
        if self.pointer.is_some() {
            return Err("a `reticle-vlm` package has no `pointer` section".into());
        }
        if self.qwen.is_some() {
            return Err("a `reticle-vlm` package has no `qwen` section".into());
        }
        let v = self.vlm_parts()?;
        if v.decoder.position_scheme != PositionScheme::Linear {
            return Err("a `reticle-vlm` package needs `decoder.position_scheme` `linear`".into());
        }
        Self::check_decoder_graphs(
            v.decoder,
            v.graphs,
            &standard_graphs(v.decoder.num_layers),
            v.max_new_tokens,
        )?;
        if !v.prompt.template.contains("{instruction}") {
            return Err("`prompt.template` must contain `{instruction}`".into());
        }
        check_file_name("tokenizer", v.tokenizer)
    }

    fn validate_pointer(&self) -> std::result::Result<(), String> {
        for (field, present) in [
            ("graphs", self.graphs.is_some()),
            ("decoder", self.decoder.is_some()),
            ("prompt", self.prompt.is_some()),
            ("special_tokens", self.special_tokens.is_some()),
            ("max_new_tokens", self.max_new_tokens.is_some()),
            ("tokenizer", self.tokenizer.is_some()),
            ("qwen", self.qwen.is_some()),
        ] {
            if present {
                return Err(format!(
                    "a `pointer` package has no `{field}` section (it belongs to `reticle-vlm`)"
                ));
            }
        }
        let Some(spec) = &self.pointer else {
            return Err("a `pointer` package needs `pointer`".into());
        };
        spec.validate(self.preprocess.width, self.preprocess.height)?;
        // Patches map back to the original image by scaling (`pointer::click_point`).
        if self.preprocess.resize != ResizeMode::Stretch {
            return Err("a `pointer` package needs `preprocess.resize` `stretch`".into());
        }
        check_file_name("pointer.graph", &spec.graph)
    }

    /// Every file the manifest names, relative to the package folder.
    pub fn files(&self) -> Vec<String> {
        let mut f = Vec::new();
        if let Some(g) = &self.graphs {
            f.extend([
                g.vision_encoder.file.clone(),
                g.embed_tokens.file.clone(),
                g.decoder.file.clone(),
            ]);
        }
        f.extend(self.tokenizer.clone());
        f.extend(self.pointer.as_ref().map(|p| p.graph.clone()));
        if let Some(q) = &self.qwen {
            f.extend([
                q.config.clone(),
                q.preprocessor.clone(),
                q.chat_template.clone(),
            ]);
        }
        f.extend(self.perception.icons.as_ref().map(|i| i.model.file.clone()));
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
            architecture: Architecture::ReticleVlm,
            graphs: Some(standard_graphs(2)),
            pointer: None,
            qwen: None,
            decoder: Some(DecoderSpec {
                num_layers: 2,
                num_kv_heads: 2,
                head_dim: 16,
                hidden_size: 32,
                vocab_size: 300,
                num_image_tokens: 16,
                max_positions: 128,
                position_scheme: Default::default(),
            }),
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
            prompt: Some(Prompt {
                template: "{instruction}".into(),
                mode: Mode::Direct,
            }),
            special_tokens: Some(SpecialTokens {
                bos: "<bos>".into(),
                eos: "<eos>".into(),
                pad: "<pad>".into(),
                image: "<image>".into(),
            }),
            max_new_tokens: Some(24),
            tokenizer: Some("tokenizer.json".into()),
            weights: None,
            card: None,
            opset: 17,
            tasks: vec![],
            perception: Default::default(),
        }
    }

    /// A pointer package: 64×48 input, 8-pixel cells.
    pub(crate) fn pointer_sample() -> Manifest {
        Manifest {
            architecture: Architecture::Pointer,
            graphs: None,
            decoder: None,
            prompt: None,
            special_tokens: None,
            max_new_tokens: None,
            tokenizer: None,
            pointer: Some(crate::pointer::PointerSpec {
                graph: "pointer.onnx".into(),
                cell: 8,
                text: crate::pointer::TextConfig {
                    max_candidates: 4,
                    ..Default::default()
                },
                nothing: false,
                nothing_bias: 0.0,
            }),
            preprocess: Preprocess {
                width: 64,
                height: 48,
                ..sample().preprocess
            },
            ..sample()
        }
    }

    fn check_err(edit: impl Fn(&mut serde_json::Value), needle: &str) {
        check_err_in(sample(), edit, needle);
    }

    fn check_err_in(m: Manifest, edit: impl Fn(&mut serde_json::Value), needle: &str) {
        let mut v = serde_json::to_value(m).unwrap();
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
    fn pointer_manifest_round_trips() {
        let m = pointer_sample();
        let text = serde_json::to_string_pretty(&m).unwrap();
        assert!(text.contains("\"architecture\": \"pointer\""), "{text}");
        assert!(!text.contains("decoder"), "{text}");
        assert_eq!(Manifest::from_json(&text).unwrap(), m);
        assert_eq!(m.files(), ["pointer.onnx"]);
        assert_eq!(m.pointer_spec().unwrap().cell, 8);
        let err = m.vlm().unwrap_err().to_string();
        assert!(err.contains("is a `pointer` package"), "{err}");
    }

    #[test]
    fn a_manifest_without_architecture_is_reticle_vlm() {
        let mut v = serde_json::to_value(sample()).unwrap();
        v.as_object_mut().unwrap().remove("architecture");
        let m = Manifest::from_json(&v.to_string()).unwrap();
        assert_eq!(m.architecture, Architecture::ReticleVlm);
        assert_eq!(m.vlm().unwrap().max_new_tokens, 24);
        assert!(m.pointer_spec().is_err());
    }

    fn qwen_sample() -> Manifest {
        let mut m = sample();
        m.architecture = Architecture::Qwen2Vl;
        m.graphs = Some(qwen_graphs(2));
        m.prompt = None;
        m.special_tokens = None;
        if let Some(d) = m.decoder.as_mut() {
            d.position_scheme = PositionScheme::Mrope;
        }
        m.qwen = Some(QwenSpec {
            config: "config.json".into(),
            preprocessor: "preprocessor_config.json".into(),
            chat_template: "chat_template.jinja".into(),
            mode: Mode::Direct,
        });
        m
    }

    #[test]
    fn qwen_manifests_round_trip_and_name_what_is_wrong() {
        let m = qwen_sample();
        let back = Manifest::from_json(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert!(back.files().contains(&"chat_template.jinja".to_string()));
        assert!(back.qwen().is_ok());
        assert!(back.vlm().is_err());
        check_err_in(
            qwen_sample(),
            |v| v["decoder"]["position_scheme"] = "linear".into(),
            "needs `decoder.position_scheme` `mrope`",
        );
        check_err_in(
            qwen_sample(),
            |v| {
                v.as_object_mut().unwrap().remove("qwen");
            },
            "a `qwen2-vl` package needs `qwen`",
        );
        check_err_in(
            qwen_sample(),
            |v| v["graphs"] = serde_json::to_value(standard_graphs(2)).unwrap(),
            "graph `vision_encoder` inputs [\"pixel_values\"] differ",
        );
        check_err_in(
            qwen_sample(),
            |v| v["qwen"]["chat_template"] = "../x.jinja".into(),
            "qwen.chat_template `../x.jinja` must be a plain relative name",
        );
        check_err_in(
            qwen_sample(),
            |v| v["prompt"] = serde_json::to_value(sample().prompt).unwrap(),
            "a `qwen2-vl` package has no `prompt` section",
        );
        // A ReticleVLM package keeps linear positions and has no qwen section.
        check_err(
            |v| v["decoder"]["position_scheme"] = "mrope".into(),
            "needs `decoder.position_scheme` `linear`",
        );
        check_err(
            |v| v["decoder"]["position_scheme"] = "spiral".into(),
            "unknown variant `spiral`",
        );
    }

    #[test]
    fn architecture_errors_name_the_problem() {
        check_err(
            |v| v["architecture"] = "foo".into(),
            "unknown architecture `foo` (known: reticle-vlm, pointer, qwen2-vl)",
        );
        check_err(
            |v| v["pointer"] = serde_json::to_value(pointer_sample().pointer).unwrap(),
            "a `reticle-vlm` package has no `pointer` section",
        );
        check_err(
            |v| {
                v.as_object_mut().unwrap().remove("decoder");
            },
            "a `reticle-vlm` package needs `decoder`",
        );
        check_err(
            |v| {
                v.as_object_mut().unwrap().remove("tokenizer");
            },
            "a `reticle-vlm` package needs `tokenizer`",
        );
        let vlm = serde_json::to_value(sample()).unwrap();
        check_err_in(
            pointer_sample(),
            |v| v["decoder"] = vlm["decoder"].clone(),
            "a `pointer` package has no `decoder` section",
        );
        check_err_in(
            pointer_sample(),
            |v| {
                v.as_object_mut().unwrap().remove("pointer");
            },
            "a `pointer` package needs `pointer`",
        );
        check_err_in(
            pointer_sample(),
            |v| v["pointer"]["cell"] = 7.into(),
            "pointer.cell 7 must divide the input size 64×48",
        );
        check_err_in(
            pointer_sample(),
            |v| v["pointer"]["graph"] = "/abs/pointer.onnx".into(),
            "pointer.graph `/abs/pointer.onnx` must be a plain relative name",
        );
        check_err_in(
            pointer_sample(),
            |v| v["preprocess"]["resize"] = "letterbox".into(),
            "needs `preprocess.resize` `stretch`",
        );
        check_err_in(
            pointer_sample(),
            |v| v["pointer"]["text"]["max_candidates"] = 0.into(),
            "text.max_candidates 0 is outside",
        );
    }

    #[test]
    fn an_icon_stage_needs_the_text_reader_and_a_bare_file() {
        use crate::icons::{IconClass, IconStage};
        let mut m = pointer_sample();
        let stage = IconStage {
            model: ModelFile {
                file: "icons.onnx".into(),
                sha256: "ab".repeat(32),
            },
            classes: vec![IconClass {
                key: "search".into(),
                names: vec!["search".into()],
            }],
            threshold: 0.6,
        };
        m.perception.ocr = Some(OcrStage::pp_ocr_v6());
        m.perception.icons = Some(stage.clone());
        m.validate().unwrap();
        assert!(m.files().contains(&"icons.onnx".to_string()));
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(Manifest::from_json(&text).unwrap(), m);
        m.perception.icons.as_mut().unwrap().model.file = "../icons.onnx".into();
        assert!(m
            .validate()
            .unwrap_err()
            .contains("perception.icons.model.file"));
        m.perception.icons = Some(stage);
        m.perception.ocr = None;
        assert!(m.validate().unwrap_err().contains("needs `perception.ocr`"));
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

        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        pointer_sample().save(dir.path())?;
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing file pointer.onnx"), "{err}");
        Ok(())
    }
}
