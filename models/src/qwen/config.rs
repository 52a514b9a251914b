//! The `config.json` of a Qwen2-VL (`model_type = "qwen2_vl"`) or Qwen2.5-VL
//! (`"qwen2_5_vl"`) checkpoint: the language model, the vision tower and the vision tokens.
//!
//! Two layouts exist in the wild and both are read: the flat one of the published checkpoints
//! (text fields at the top level, `rope_theta` and `rope_scaling.mrope_section` beside them,
//! `vision_config.in_chans`) and the nested one that `transformers` ≥ 5 writes (`text_config`
//! with `rope_parameters.{rope_theta, mrope_section}`, `vision_config.in_channels`). A text field
//! is looked up in `text_config` first, then at the top level.
//!
//! Fields that fix tensor shapes are required and a missing one is named; fields that
//! `transformers` defaults (`num_key_value_heads`, the vision token ids, `hidden_act`, …) get the
//! same defaults as `transformers` 5.24.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The two checkpoint families, by their `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Qwen2-VL: LayerNorm + QuickGELU MLP vision blocks, full attention everywhere; answers
    /// points in the `norm1000` frame.
    Qwen2Vl,
    /// Qwen2.5-VL: RMSNorm + SwiGLU vision blocks, window attention except in
    /// `fullatt_block_indexes`; answers points in resized-image pixels.
    Qwen25Vl,
}

impl Family {
    /// Every supported family, in the order error messages list them.
    pub const ALL: [Family; 2] = [Family::Qwen2Vl, Family::Qwen25Vl];

    /// The `model_type` string of `config.json`.
    pub fn model_type(&self) -> &'static str {
        match self {
            Family::Qwen2Vl => "qwen2_vl",
            Family::Qwen25Vl => "qwen2_5_vl",
        }
    }

    /// The family of a `model_type`, if supported.
    pub fn from_model_type(model_type: &str) -> Option<Family> {
        Family::ALL
            .into_iter()
            .find(|f| f.model_type() == model_type)
    }
}

/// The language model (a Qwen2 decoder with M-RoPE).
#[derive(Debug, Clone, PartialEq)]
pub struct TextConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub intermediate_size: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    /// Rotary frequencies given to the temporal, height and width position rows; sums to
    /// `head_dim / 2`.
    pub mrope_section: Vec<usize>,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: String,
}

impl TextConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// Window attention of the Qwen2.5-VL vision tower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowAttention {
    /// Window side in input pixels (112 in the published checkpoints: 4×4 merged patches).
    pub window_size: usize,
    /// Blocks that attend over the whole image; all others attend within windows.
    pub fullatt_block_indexes: Vec<usize>,
}

/// The vision tower and its patch merger.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionConfig {
    pub depth: usize,
    /// Width of the vision blocks (`embed_dim` in Qwen2-VL, `hidden_size` in Qwen2.5-VL).
    pub hidden_size: usize,
    pub num_heads: usize,
    /// Width of the block MLP (`embed_dim · mlp_ratio` in Qwen2-VL).
    pub intermediate_size: usize,
    /// Width the merger projects to: the language model's `hidden_size` (`hidden_size` in
    /// Qwen2-VL's vision config, `out_hidden_size` in Qwen2.5-VL's).
    pub out_hidden_size: usize,
    pub patch_size: usize,
    pub temporal_patch_size: usize,
    pub spatial_merge_size: usize,
    pub in_channels: usize,
    pub hidden_act: String,
    /// `Some` for Qwen2.5-VL.
    pub window: Option<WindowAttention>,
}

/// Token ids the processor and the model agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisionTokens {
    pub image_token_id: u32,
    pub video_token_id: u32,
    pub vision_start_token_id: u32,
    pub vision_end_token_id: u32,
}

/// A parsed and checked `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct QwenConfig {
    pub family: Family,
    pub text: TextConfig,
    pub vision: VisionConfig,
    pub tokens: VisionTokens,
    pub tie_word_embeddings: bool,
}

impl QwenConfig {
    /// Reads and checks `path` (a `config.json`).
    pub fn load(path: &Path) -> Result<QwenConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        QwenConfig::parse(&text, path)
    }

    /// Parses the text of a `config.json`; `path` only names it in errors.
    pub fn parse(json: &str, path: &Path) -> Result<QwenConfig> {
        let root: Value = serde_json::from_str(json)
            .map_err(|e| Error::checkpoint(path, format!("config is not JSON: {e}")))?;
        let root = root
            .as_object()
            .ok_or_else(|| Error::checkpoint(path, "config is not a JSON object"))?;
        let top = Fields::new(root, "", path);
        let model_type = top.string("model_type")?;
        let family = Family::from_model_type(&model_type).ok_or_else(|| {
            let supported: Vec<_> = Family::ALL.iter().map(|f| f.model_type()).collect();
            Error::checkpoint(
                path,
                format!(
                    "unsupported model_type `{model_type}` (supported: {})",
                    supported.join(", ")
                ),
            )
        })?;
        let nested = top.object("text_config")?;
        let text_fields = TextFields { nested, top };
        let text = parse_text(&text_fields, path)?;
        let vision_obj = top
            .object("vision_config")?
            .ok_or_else(|| Error::checkpoint(path, "missing field `vision_config`"))?;
        let vision = parse_vision(family, &vision_obj)?;
        let tokens = VisionTokens {
            image_token_id: top.u32_or("image_token_id", 151655)?,
            video_token_id: top.u32_or("video_token_id", 151656)?,
            vision_start_token_id: top.u32_or("vision_start_token_id", 151652)?,
            vision_end_token_id: top.u32_or("vision_end_token_id", 151653)?,
        };
        // transformers 5 ties the embeddings when either level asks for it.
        let tie_word_embeddings = top.bool_or("tie_word_embeddings", false)?
            || match &nested {
                Some(t) => t.bool_or("tie_word_embeddings", false)?,
                None => false,
            };
        let config = QwenConfig {
            family,
            text,
            vision,
            tokens,
            tie_word_embeddings,
        };
        config.check(path)?;
        Ok(config)
    }

    /// `patch_size · spatial_merge_size`: image sides are multiples of it (28).
    pub fn resize_factor(&self) -> usize {
        self.vision.patch_size * self.vision.spatial_merge_size
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |m: String| Err(Error::checkpoint(path, m));
        let t = &self.text;
        if t.num_attention_heads == 0 || t.hidden_size % t.num_attention_heads != 0 {
            return bad(format!(
                "text hidden_size {} is not a multiple of num_attention_heads {}",
                t.hidden_size, t.num_attention_heads
            ));
        }
        if t.num_key_value_heads == 0 || t.num_attention_heads % t.num_key_value_heads != 0 {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                t.num_attention_heads, t.num_key_value_heads
            ));
        }
        let section: usize = t.mrope_section.iter().sum();
        if t.mrope_section.len() != 3 || 2 * section != t.head_dim() {
            return bad(format!(
                "mrope_section {:?} must have 3 entries summing to head_dim / 2 = {}",
                t.mrope_section,
                t.head_dim() / 2
            ));
        }
        let v = &self.vision;
        if v.num_heads == 0 || v.hidden_size % v.num_heads != 0 {
            return bad(format!(
                "vision_config hidden size {} is not a multiple of num_heads {}",
                v.hidden_size, v.num_heads
            ));
        }
        if v.out_hidden_size != t.hidden_size {
            return bad(format!(
                "the vision merger writes {} features but the language model's hidden_size is {}",
                v.out_hidden_size, t.hidden_size
            ));
        }
        if [v.patch_size, v.temporal_patch_size, v.spatial_merge_size].contains(&0) {
            return bad("vision_config patch sizes and spatial_merge_size must be positive".into());
        }
        if let Some(w) = &v.window {
            let unit = self.resize_factor();
            if w.window_size == 0 || w.window_size % unit != 0 {
                return bad(format!(
                    "vision_config.window_size {} is not a positive multiple of patch_size · spatial_merge_size = {unit}",
                    w.window_size
                ));
            }
            if let Some(i) = w.fullatt_block_indexes.iter().find(|&&i| i >= v.depth) {
                return bad(format!(
                    "vision_config.fullatt_block_indexes names block {i} but depth is {}",
                    v.depth
                ));
            }
        }
        Ok(())
    }
}

fn parse_text(f: &TextFields<'_>, path: &Path) -> Result<TextConfig> {
    let num_attention_heads = f.usize("num_attention_heads")?;
    // Newer configs keep the rotary settings in `rope_parameters`, older ones in
    // `rope_scaling` (`{"type": "mrope", "mrope_section": [...]}`) with `rope_theta` beside it.
    let rope = match f.object("rope_parameters")? {
        Some(r) => Some(r),
        None => f.object("rope_scaling")?,
    };
    let rope_theta = match rope.as_ref().map(|r| r.opt_f64("rope_theta")).transpose()? {
        Some(Some(theta)) => theta,
        _ => f.f64_or("rope_theta", 1_000_000.0)?,
    };
    let mrope_section = match &rope {
        Some(r) => r.usize_list("mrope_section")?,
        None => None,
    }
    .ok_or_else(|| {
        Error::checkpoint(
            path,
            "missing field `rope_scaling.mrope_section` (or `rope_parameters.mrope_section`)",
        )
    })?;
    Ok(TextConfig {
        hidden_size: f.usize("hidden_size")?,
        num_hidden_layers: f.usize("num_hidden_layers")?,
        num_attention_heads,
        num_key_value_heads: f.usize_or("num_key_value_heads", num_attention_heads)?,
        intermediate_size: f.usize("intermediate_size")?,
        rms_norm_eps: f.f64_or("rms_norm_eps", 1e-5)?,
        rope_theta,
        mrope_section,
        vocab_size: f.usize("vocab_size")?,
        max_position_embeddings: f.usize_or("max_position_embeddings", 32768)?,
        hidden_act: f.string_or("hidden_act", "silu")?,
    })
}

fn parse_vision(family: Family, v: &Fields<'_>) -> Result<VisionConfig> {
    let in_channels = match v.opt_usize("in_channels")? {
        Some(c) => c,
        None => v.usize_or("in_chans", 3)?,
    };
    let common = |hidden_size, intermediate_size, out_hidden_size, hidden_act, window| {
        Ok(VisionConfig {
            depth: v.usize("depth")?,
            hidden_size,
            num_heads: v.usize("num_heads")?,
            intermediate_size,
            out_hidden_size,
            patch_size: v.usize_or("patch_size", 14)?,
            temporal_patch_size: v.usize_or("temporal_patch_size", 2)?,
            spatial_merge_size: v.usize_or("spatial_merge_size", 2)?,
            in_channels,
            hidden_act,
            window,
        })
    };
    match family {
        Family::Qwen2Vl => {
            let embed_dim = v.usize("embed_dim")?;
            let mlp_ratio = v.f64_or("mlp_ratio", 4.0)?;
            common(
                embed_dim,
                // transformers: `int(embed_dim * mlp_ratio)`.
                (embed_dim as f64 * mlp_ratio) as usize,
                v.usize("hidden_size")?,
                v.string_or("hidden_act", "quick_gelu")?,
                None,
            )
        }
        Family::Qwen25Vl => {
            let window = WindowAttention {
                window_size: v.usize_or("window_size", 112)?,
                fullatt_block_indexes: v
                    .usize_list("fullatt_block_indexes")?
                    .unwrap_or_else(|| vec![7, 15, 23, 31]),
            };
            common(
                v.usize("hidden_size")?,
                v.usize("intermediate_size")?,
                v.usize("out_hidden_size")?,
                v.string_or("hidden_act", "silu")?,
                Some(window),
            )
        }
    }
}

/// Typed access to one JSON object with errors naming `prefix + key`.
#[derive(Clone, Copy)]
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'static str,
    path: &'a Path,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, prefix: &'static str, path: &'a Path) -> Self {
        Fields { map, prefix, path }
    }

    fn err(&self, key: &str, what: &str) -> Error {
        Error::checkpoint(self.path, format!("field `{}{key}` {what}", self.prefix))
    }

    fn missing(&self, key: &str) -> Error {
        Error::checkpoint(self.path, format!("missing field `{}{key}`", self.prefix))
    }

    /// The value of `key`, treating JSON `null` as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                map,
                prefix: nested_prefix(key),
                path: self.path,
            })),
            Some(_) => Err(self.err(key, "is not an object")),
        }
    }

    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.err(key, "is not a non-negative integer")),
        }
    }

    fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?.ok_or_else(|| self.missing(key))
    }

    fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        Ok(self.opt_usize(key)?.unwrap_or(default))
    }

    fn u32_or(&self, key: &str, default: u32) -> Result<u32> {
        let n = self.usize_or(key, default as usize)?;
        u32::try_from(n).map_err(|_| self.err(key, "does not fit a token id"))
    }

    fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.err(key, "is not a number")),
        }
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.opt_f64(key)?.unwrap_or(default))
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(key, "is not a boolean")),
        }
    }

    fn string_or(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| self.err(key, "is not a string")),
        }
    }

    fn string(&self, key: &str) -> Result<String> {
        match self.get(key) {
            None => Err(self.missing(key)),
            Some(_) => self.string_or(key, ""),
        }
    }

    fn usize_list(&self, key: &str) -> Result<Option<Vec<usize>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| self.err(key, "is not a list of non-negative integers")),
            Some(_) => Err(self.err(key, "is not a list")),
        }
    }
}

/// Error-message prefixes of the nested objects this module reads.
fn nested_prefix(key: &str) -> &'static str {
    match key {
        "text_config" => "text_config.",
        "vision_config" => "vision_config.",
        "rope_parameters" => "rope_parameters.",
        "rope_scaling" => "rope_scaling.",
        _ => "",
    }
}

/// Text fields: `text_config` first, then the top level.
struct TextFields<'a> {
    nested: Option<Fields<'a>>,
    top: Fields<'a>,
}

impl<'a> TextFields<'a> {
    /// The object holding `key`: `text_config` when it has it, else the top level.
    fn at(&self, key: &str) -> Fields<'a> {
        match self.nested {
            Some(n) if n.get(key).is_some() => n,
            _ => self.top,
        }
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>> {
        self.at(key).object(key)
    }

    fn usize(&self, key: &str) -> Result<usize> {
        // A missing text field is named where new checkpoints keep it.
        match self.at(key).opt_usize(key)? {
            Some(n) => Ok(n),
            None => Err(self.nested.unwrap_or(self.top).missing(key)),
        }
    }

    fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        self.at(key).usize_or(key, default)
    }

    fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        self.at(key).f64_or(key, default)
    }

    fn string_or(&self, key: &str, default: &str) -> Result<String> {
        self.at(key).string_or(key, default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2-VL-2B-Instruct's published config.json (flat layout), trimmed of unused fields.
    const QWEN2_VL_2B: &str = r#"{
      "architectures": ["Qwen2VLForConditionalGeneration"],
      "bos_token_id": 151643, "eos_token_id": 151645,
      "vision_start_token_id": 151652, "vision_end_token_id": 151653,
      "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656,
      "hidden_act": "silu", "hidden_size": 1536, "intermediate_size": 8960,
      "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen2_vl",
      "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
      "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
      "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_sliding_window": false,
      "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16,
        "in_chans": 3, "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2,
        "spatial_patch_size": 14, "temporal_patch_size": 2},
      "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
      "vocab_size": 151936
    }"#;

    /// What transformers 5.24 writes for a tiny Qwen2.5-VL (nested layout).
    const QWEN25_VL_TINY_V5: &str = r#"{
      "image_token_id": 151655, "model_type": "qwen2_5_vl",
      "text_config": {"hidden_act": "silu", "hidden_size": 64, "intermediate_size": 128,
        "max_position_embeddings": 32768, "model_type": "qwen2_5_vl_text",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-05,
        "rope_parameters": {"mrope_section": [2, 3, 3], "rope_theta": 1000000.0,
          "rope_type": "default", "type": "mrope"},
        "vocab_size": 1000},
      "tie_word_embeddings": false, "video_token_id": 151656,
      "vision_config": {"depth": 2, "fullatt_block_indexes": [1], "hidden_act": "silu",
        "hidden_size": 32, "in_channels": 3, "intermediate_size": 64,
        "model_type": "qwen2_5_vl_vision", "num_heads": 2, "out_hidden_size": 64,
        "patch_size": 14, "rope_parameters": {"rope_theta": 10000.0, "rope_type": "axial"},
        "spatial_merge_size": 2, "temporal_patch_size": 2, "tokens_per_second": 4,
        "window_size": 56},
      "vision_end_token_id": 151653, "vision_start_token_id": 151652
    }"#;

    fn parse(json: &str) -> Result<QwenConfig> {
        QwenConfig::parse(json, Path::new("config.json"))
    }

    fn error(json: &str) -> String {
        match parse(json) {
            Ok(c) => panic!("expected an error, parsed {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_the_flat_qwen2_vl_layout() {
        let c = parse(QWEN2_VL_2B).unwrap();
        assert_eq!(c.family, Family::Qwen2Vl);
        assert_eq!(c.text.hidden_size, 1536);
        assert_eq!(c.text.num_key_value_heads, 2);
        assert_eq!(c.text.head_dim(), 128);
        assert_eq!(c.text.mrope_section, vec![16, 24, 24]);
        assert_eq!(c.text.rms_norm_eps, 1e-6);
        assert_eq!(c.text.rope_theta, 1e6);
        assert_eq!(c.vision.hidden_size, 1280);
        assert_eq!(c.vision.intermediate_size, 5120);
        assert_eq!(c.vision.out_hidden_size, 1536);
        assert_eq!(c.vision.hidden_act, "quick_gelu");
        assert_eq!(c.vision.window, None);
        assert!(c.tie_word_embeddings);
        assert_eq!(c.tokens.vision_start_token_id, 151652);
        assert_eq!(c.resize_factor(), 28);
    }

    #[test]
    fn reads_the_nested_qwen25_vl_layout() {
        let c = parse(QWEN25_VL_TINY_V5).unwrap();
        assert_eq!(c.family, Family::Qwen25Vl);
        assert_eq!(c.text.hidden_size, 64);
        assert_eq!(c.text.vocab_size, 1000);
        assert_eq!(c.text.mrope_section, vec![2, 3, 3]);
        assert_eq!(c.vision.hidden_size, 32);
        assert_eq!(c.vision.out_hidden_size, 64);
        assert_eq!(
            c.vision.window,
            Some(WindowAttention {
                window_size: 56,
                fullatt_block_indexes: vec![1]
            })
        );
        assert!(!c.tie_word_embeddings);
    }

    #[test]
    fn errors_name_the_problem() {
        let llava = QWEN2_VL_2B.replace("\"qwen2_vl\"", "\"llava\"");
        assert!(
            error(&llava)
                .contains("unsupported model_type `llava` (supported: qwen2_vl, qwen2_5_vl)"),
            "{}",
            error(&llava)
        );
        let no_layers = QWEN2_VL_2B.replace("\"num_hidden_layers\": 28,", "");
        assert!(error(&no_layers).contains("missing field `num_hidden_layers`"));
        let nested_missing = QWEN25_VL_TINY_V5.replace("\"vocab_size\": 1000", "\"x\": 0");
        assert!(error(&nested_missing).contains("missing field `text_config.vocab_size`"));
        let no_section = QWEN2_VL_2B.replace("\"mrope_section\": [16, 24, 24]", "\"x\": 1");
        assert!(error(&no_section).contains("mrope_section"));
        let bad_section = QWEN2_VL_2B.replace("[16, 24, 24]", "[16, 24, 16]");
        assert!(error(&bad_section).contains("head_dim / 2 = 64"));
        let no_embed = QWEN2_VL_2B.replace("\"embed_dim\": 1280,", "");
        assert!(error(&no_embed).contains("missing field `vision_config.embed_dim`"));
        let bad_merger =
            QWEN25_VL_TINY_V5.replace("\"out_hidden_size\": 64", "\"out_hidden_size\": 65");
        assert!(error(&bad_merger).contains("merger writes 65"));
        let bad_full = QWEN25_VL_TINY_V5.replace("[1]", "[2]");
        assert!(error(&bad_full).contains("names block 2 but depth is 2"));
        let wrong_type = QWEN2_VL_2B.replace(
            "\"hidden_size\": 1536, \"intermediate",
            "\"hidden_size\": \"big\", \"intermediate",
        );
        assert!(error(&wrong_type).contains("field `hidden_size` is not a non-negative integer"));
        assert!(error("[]").contains("not a JSON object"));
    }
}
