//! A Hugging Face checkpoint folder as users download it: `config.json`, `model.safetensors`
//! or shards `model-0000N-of-0000M.safetensors` listed by `model.safetensors.index.json`,
//! `tokenizer.json`, `tokenizer_config.json`, `preprocessor_config.json` and (optionally)
//! `generation_config.json`.
//!
//! [`CheckpointDir::open`] reads only metadata: the configs, the index and each shard's
//! safetensors header (an 8-byte little-endian length, then that much JSON), never the tensor
//! data, so opening a 7B checkpoint costs a few kilobytes of I/O per shard. Every tensor's
//! dtype, shape and byte range are checked against its shard's length.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::qwen::config::QwenConfig;
use crate::qwen::processor::ProcessorConfig;

/// The single-file weights name.
pub const SINGLE_FILE: &str = "model.safetensors";
/// The shard index name.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The tokens the processor and chat template put in prompts.
pub const VISION_TOKENS: [&str; 3] = ["<|vision_start|>", "<|image_pad|>", "<|vision_end|>"];
/// The safetensors format's bound on its JSON header (100 MB).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Where one tensor lives and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The shard file name, relative to the checkpoint folder.
    pub file: String,
    /// The safetensors dtype string (`BF16`, `F16`, `F32`, …).
    pub dtype: String,
    pub shape: Vec<usize>,
    /// Byte range within the shard's data section (after the header).
    pub data_offsets: (u64, u64),
}

/// An opened, checked checkpoint folder.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    pub root: PathBuf,
    pub config: QwenConfig,
    pub processor: ProcessorConfig,
    /// `tokenizer.json`'s path.
    pub tokenizer: PathBuf,
    /// `chat_template` of `tokenizer_config.json` (or of `chat_template.json` / `.jinja`).
    pub chat_template: Option<String>,
    /// `generation_config.json` as JSON, when present.
    pub generation: Option<Value>,
    /// The shard files, in index order.
    pub shards: Vec<String>,
    tensors: BTreeMap<String, TensorInfo>,
}

#[derive(Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct HeaderEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

impl CheckpointDir {
    /// Opens and checks `root`.
    pub fn open(root: &Path) -> Result<CheckpointDir> {
        if !root.is_dir() {
            return Err(Error::checkpoint(root, "not a folder"));
        }
        let config = QwenConfig::load(&root.join("config.json"))?;
        let processor = ProcessorConfig::load(&root.join("preprocessor_config.json"))?;
        let (shards, index) = shard_files(root)?;
        let mut tensors = BTreeMap::new();
        for shard in &shards {
            for (name, entry) in read_header(&root.join(shard))? {
                let info = TensorInfo {
                    file: shard.clone(),
                    dtype: entry.dtype,
                    shape: entry.shape,
                    data_offsets: entry.data_offsets,
                };
                if let Some(previous) = tensors.insert(name.clone(), info) {
                    return Err(Error::checkpoint(
                        root,
                        format!("tensor `{name}` is in both {} and {shard}", previous.file),
                    ));
                }
            }
        }
        if let Some(index) = index {
            for (name, file) in &index.weight_map {
                match tensors.get(name) {
                    None => {
                        return Err(Error::checkpoint(
                            root,
                            format!(
                            "{INDEX_FILE} places tensor `{name}` in {file}, which does not hold it"
                        ),
                        ))
                    }
                    Some(info) if &info.file != file => {
                        return Err(Error::checkpoint(
                            root,
                            format!(
                                "{INDEX_FILE} places tensor `{name}` in {file}, but it is in {}",
                                info.file
                            ),
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        let tokenizer = root.join("tokenizer.json");
        check_vision_tokens(&tokenizer, &config)?;
        let chat_template = read_chat_template(root)?;
        let generation_path = root.join("generation_config.json");
        let generation = if generation_path.exists() {
            let text = std::fs::read_to_string(&generation_path)
                .map_err(|e| Error::io(&generation_path, e))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| Error::checkpoint(&generation_path, format!("not JSON: {e}")))?,
            )
        } else {
            None
        };
        tracing::debug!(
            root = %root.display(),
            shards = shards.len(),
            tensors = tensors.len(),
            "opened checkpoint"
        );
        Ok(CheckpointDir {
            root: root.to_path_buf(),
            config,
            processor,
            tokenizer,
            chat_template,
            generation,
            shards,
            tensors,
        })
    }

    /// Every tensor, by name.
    pub fn tensors(&self) -> &BTreeMap<String, TensorInfo> {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    /// The tensor `name`, which must have `shape`.
    pub fn expect_tensor(&self, name: &str, shape: &[usize]) -> Result<&TensorInfo> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::checkpoint(&self.root, format!("missing tensor `{name}`")))?;
        if info.shape != shape {
            return Err(Error::checkpoint(
                &self.root,
                format!(
                    "tensor `{name}` in {} has shape {:?}, expected {shape:?}",
                    info.file, info.shape
                ),
            ));
        }
        Ok(info)
    }

    /// Tensor counts by dtype, e.g. `{"BF16": 729}`.
    pub fn dtypes(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for info in self.tensors.values() {
            *counts.entry(info.dtype.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

/// The weight files: the index's shards (each must exist) or `model.safetensors`.
fn shard_files(root: &Path) -> Result<(Vec<String>, Option<Index>)> {
    let index_path = root.join(INDEX_FILE);
    if index_path.exists() {
        let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| Error::checkpoint(&index_path, format!("not a shard index: {e}")))?;
        let mut shards: Vec<String> = Vec::new();
        for file in index.weight_map.values() {
            if !shards.contains(file) {
                shards.push(file.clone());
            }
        }
        shards.sort();
        for shard in &shards {
            if shard.contains('/') || shard.contains('\\') || shard.starts_with('.') {
                return Err(Error::checkpoint(
                    &index_path,
                    format!("shard name `{shard}` is not a plain file name"),
                ));
            }
            if !root.join(shard).is_file() {
                return Err(Error::checkpoint(
                    root,
                    format!("missing shard {shard} (named by {INDEX_FILE})"),
                ));
            }
        }
        if shards.is_empty() {
            return Err(Error::checkpoint(&index_path, "the index names no tensors"));
        }
        Ok((shards, Some(index)))
    } else if root.join(SINGLE_FILE).is_file() {
        Ok((vec![SINGLE_FILE.to_string()], None))
    } else {
        Err(Error::checkpoint(
            root,
            format!("no weights: neither {SINGLE_FILE} nor {INDEX_FILE}"),
        ))
    }
}

/// Bytes per element of a safetensors dtype; `None` for ones this crate does not know.
fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

/// The tensors of one safetensors file, from its header alone.
pub fn read_header(path: &Path) -> Result<Vec<(String, HeaderTensor)>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let bad = |m: String| Error::checkpoint(path, m);
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|_| bad("not a safetensors file: shorter than its 8-byte header length".into()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES || header_len + 8 > file_len {
        return Err(bad(format!(
            "not a safetensors file: header length {header_len} for a file of {file_len} bytes"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| Error::io(path, e))?;
    let entries: HashMap<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("safetensors header is not JSON: {e}")))?;
    let data_len = file_len - 8 - header_len;
    let mut out = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name == "__metadata__" {
            continue;
        }
        let entry: HeaderEntry =
            serde_json::from_value(value).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        let (begin, end) = entry.data_offsets;
        let elements: u64 = entry.shape.iter().map(|&d| d as u64).product();
        let expected = dtype_bytes(&entry.dtype)
            .map(|b| b * elements)
            .ok_or_else(|| bad(format!("tensor `{name}`: unknown dtype {}", entry.dtype)))?;
        if begin > end || end > data_len || end - begin != expected {
            return Err(bad(format!(
                "tensor `{name}`: bytes {begin}..{end} do not hold {:?} {} ({expected} bytes) within {data_len} bytes of data",
                entry.shape, entry.dtype
            )));
        }
        out.push((
            name,
            HeaderTensor {
                dtype: entry.dtype,
                shape: entry.shape,
                data_offsets: entry.data_offsets,
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// One tensor of a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data_offsets: (u64, u64),
}

/// The tokenizer must know the vision tokens, with the ids `config.json` gives them.
fn check_vision_tokens(path: &Path, config: &QwenConfig) -> Result<()> {
    let tokenizer = tokenizers::Tokenizer::from_file(path)
        .map_err(|e| Error::checkpoint(path, format!("tokenizer: {e}")))?;
    let expected = [
        config.tokens.vision_start_token_id,
        config.tokens.image_token_id,
        config.tokens.vision_end_token_id,
    ];
    for (token, want) in VISION_TOKENS.iter().zip(expected) {
        match tokenizer.token_to_id(token) {
            None => {
                return Err(Error::checkpoint(
                    path,
                    format!("the tokenizer has no {token} token (a Qwen2-VL vision token)"),
                ))
            }
            Some(id) if id != want => {
                return Err(Error::checkpoint(
                    path,
                    format!("the tokenizer gives {token} id {id} but config.json says {want}"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The chat template: `tokenizer_config.json`'s `chat_template` (a string, or a list of named
/// templates of which `default` is taken), else `chat_template.jinja`, else
/// `chat_template.json`'s `chat_template` (where newer processors save it).
fn read_chat_template(root: &Path) -> Result<Option<String>> {
    let config_path = root.join("tokenizer_config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let config: Value = serde_json::from_str(&text)
        .map_err(|e| Error::checkpoint(&config_path, format!("not JSON: {e}")))?;
    if let Some(template) = template_value(config.get("chat_template")) {
        return Ok(Some(template));
    }
    let jinja = root.join("chat_template.jinja");
    if jinja.is_file() {
        return std::fs::read_to_string(&jinja)
            .map(Some)
            .map_err(|e| Error::io(&jinja, e));
    }
    let json = root.join("chat_template.json");
    if json.is_file() {
        let text = std::fs::read_to_string(&json).map_err(|e| Error::io(&json, e))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::checkpoint(&json, format!("not JSON: {e}")))?;
        return Ok(template_value(value.get("chat_template")));
    }
    Ok(None)
}

fn template_value(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}
