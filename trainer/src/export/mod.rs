//! ONNX export: a trained run (or one of its checkpoints) → a model package.
//!
//! tch has no ONNX exporter, so the graphs are written from Rust with protobuf types generated
//! from the vendored `onnx.proto` ([`proto`], [`onnx_builder`]), op by op after the tch
//! forward passes ([`reticle_vlm`]). [`export_package`] writes, into a temporary folder that is
//! renamed into place at the end (nothing half-written on failure):
//!
//! ```text
//! vision_encoder.onnx  embed_tokens.onnx  decoder_model_merged.onnx   opset 17
//! tokenizer.json       the run's tokenizer
//! model.json           reticle_models::manifest::Manifest
//! weights.safetensors  the model variables (named as the ONNX initializers)
//! README.md            model card: config, step, git revision, last eval
//! ```
//!
//! [`parity`] checks a package against tch with ONNX Runtime from the tools venv.

pub mod decoder;
pub mod onnx_builder;
mod ops;
mod package;
pub mod parity;
pub mod pointer;
pub mod pointer_package;
pub mod proto;
pub mod quant;
pub mod qwen;
pub mod qwen_package;
pub mod reticle_vlm;

use std::fs;
use std::path::{Path, PathBuf};

use tch::Device;

use crate::checkpoint::{self, load_into_varstore};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::model::{Policy, ReticleVlm};
use crate::session::{load_trained, TOKENIZER_FILE};

pub use onnx_builder::OPSET;
pub use package::{build_manifest, model_card};

/// Options of [`export_package`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Replace an existing non-empty output folder.
    pub force: bool,
    /// The package name in `model.json` (default: the output folder's name).
    pub name: Option<String>,
    /// Initializer bytes per graph above which the weights go to a `<graph>.onnx.data` file
    /// beside it (default [`onnx_builder::EXTERNAL_DATA_DEFAULT`], 1 GiB).
    pub external_data_above: Option<u64>,
    /// Quantise the decoder's weights (`qwen2-vl` exports only; `None`: f32).
    pub quantize: Option<quant::Quant>,
}

impl ExportOptions {
    pub(crate) fn external_above(&self) -> u64 {
        self.external_data_above
            .unwrap_or(onnx_builder::EXTERNAL_DATA_DEFAULT)
    }
}

/// A trained model and where it came from.
#[derive(Debug)]
pub struct Trained {
    pub cfg: TrainConfig,
    pub model: ReticleVlm,
    pub step: u64,
    /// The run directory (holds `config.toml`, `tokenizer.json`, `run.json`, metrics).
    pub run_root: PathBuf,
}

/// What [`export_package`] wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    pub dir: PathBuf,
    /// The training step of the exported weights.
    pub step: u64,
    /// File names and sizes in bytes.
    pub files: Vec<(String, u64)>,
}

/// Loads a run's last checkpoint (`source` = run directory) or a given checkpoint
/// (`source` = `<run>/checkpoints/step-N`) on the CPU.
pub fn load_source(source: &Path) -> Result<Trained> {
    if source.join("config.toml").is_file() {
        let (cfg, _, model, step) = load_trained(source, Device::Cpu)?;
        return Ok(Trained {
            cfg,
            model,
            step,
            run_root: source.to_path_buf(),
        });
    }
    let run_root = source
        .parent()
        .and_then(Path::parent)
        .filter(|r| r.join("config.toml").is_file() && source.join("model.safetensors").is_file())
        .ok_or_else(|| Error::Export {
            path: source.to_path_buf(),
            message: "is neither a run directory (config.toml) nor a checkpoint folder \
                      (<run>/checkpoints/step-N/model.safetensors)"
                .into(),
        })?
        .to_path_buf();
    // The run's config and tokenizer with this checkpoint's weights.
    let (cfg, _, mut model, _) = load_trained(&run_root, Device::Cpu)?;
    let ck = checkpoint::load_checkpoint(source)?;
    load_into_varstore(model.var_store_mut(), &ck.model)?;
    Ok(Trained {
        cfg,
        model,
        step: ck.step,
        run_root,
    })
}

/// Exports `source` (a run directory or one of its checkpoint folders) to the package folder
/// `out`. Refuses a non-empty `out` unless `opts.force`, and never replaces a run directory.
pub fn export_package(source: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    check_destination(source, out, opts)?;
    if let Some(mut trained) = qwen_package::load_source(source)? {
        let step = trained.step;
        return write_dir(source, step, out, opts, |dir, name| {
            qwen_package::fill(&mut trained, dir, name, opts)
        });
    }
    if let Some(q) = opts.quantize {
        return Err(Error::Export {
            path: source.to_path_buf(),
            message: format!(
                "--quantize {} applies to qwen2-vl exports; this run's decoder is small enough to stay f32",
                q.name()
            ),
        });
    }
    if pointer_package::is_pointer_source(source)? {
        let trained = pointer_package::load_source(source)?;
        return write_dir(&trained.run_root, trained.step, out, opts, |dir, name| {
            pointer_package::fill(&trained, dir, name)
        });
    }
    let trained = load_source(source)?;
    write_package(&trained, out, opts)
}

fn check_destination(source: &Path, out: &Path, opts: &ExportOptions) -> Result<()> {
    let refuse = |message: String| {
        Err(Error::Export {
            path: out.to_path_buf(),
            message,
        })
    };
    if out.exists() && !out.is_dir() {
        return refuse("exists and is not a folder".into());
    }
    if out.join("config.toml").exists() || out.join("checkpoints").exists() {
        return refuse("holds a training run; pick another folder".into());
    }
    if let (Ok(src), Ok(dst)) = (source.canonicalize(), out.canonicalize()) {
        if src.starts_with(&dst) {
            return refuse(format!("contains the source {}", source.display()));
        }
    }
    let non_empty = out.is_dir()
        && fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some();
    if non_empty && !opts.force {
        return refuse("is not empty (pass --force to replace it)".into());
    }
    Ok(())
}

/// Writes the package of `trained` into `out` (see the module docs).
pub fn write_package(trained: &Trained, out: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    let external = opts.external_above();
    write_dir(&trained.run_root, trained.step, out, opts, |dir, name| {
        fill_package(trained, dir, name, external)
    })
}

/// Fills a fresh folder beside `out` with `fill(dir, name)` and swaps it into place, so a
/// failed export never leaves a half-written package (or loses the old one).
fn write_dir(
    run_root: &Path,
    step: u64,
    out: &Path,
    opts: &ExportOptions,
    fill: impl FnOnce(&Path, &str) -> Result<()>,
) -> Result<ExportReport> {
    check_destination(run_root, out, opts)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let leaf = out
        .file_name()
        .ok_or_else(|| Error::Export {
            path: out.to_path_buf(),
            message: "has no folder name".into(),
        })?
        .to_string_lossy()
        .into_owned();
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = parent.join(format!(".{leaf}.tmp-export-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let name = opts.name.clone().unwrap_or(leaf);
    let written = fill(&tmp, &name).and_then(|()| replace_dir(&tmp, out));
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let size = entry
            .metadata()
            .map_err(|e| Error::io(entry.path(), e))?
            .len();
        files.push((entry.file_name().to_string_lossy().into_owned(), size));
    }
    files.sort();
    tracing::info!(out = %out.display(), step, "exported model package");
    Ok(ExportReport {
        dir: out.to_path_buf(),
        step,
        files,
    })
}

/// Writes every file of the package into `dir`.
fn fill_package(trained: &Trained, dir: &Path, name: &str, external_above: u64) -> Result<()> {
    let m = &trained.model;
    let manifest = build_manifest(trained, name)?;
    let vlm = manifest.vlm()?;
    let graphs = vlm.graphs;
    for (file, graph) in [
        (&graphs.vision_encoder.file, reticle_vlm::vision_encoder(m)?),
        (&graphs.embed_tokens.file, reticle_vlm::embed_tokens(m)?),
        (&graphs.decoder.file, reticle_vlm::decoder(m)?),
    ] {
        onnx_builder::write_model(graph, dir, file, external_above)?;
    }
    let tok_src = trained.run_root.join(TOKENIZER_FILE);
    let tok = fs::read(&tok_src).map_err(|e| Error::io(&tok_src, e))?;
    reticle_models::fsutil::write_atomic(&dir.join(vlm.tokenizer), &tok)?;
    if let Some(weights) = &manifest.weights {
        let named = checkpoint::varstore_named(m.var_store());
        tch::Tensor::write_safetensors(&named, dir.join(weights))?;
    }
    if let Some(card) = &manifest.card {
        let text = model_card(trained, &manifest)?;
        reticle_models::fsutil::write_atomic(&dir.join(card), text.as_bytes())?;
    }
    manifest.save(dir)?;
    Ok(())
}

/// Moves the finished `tmp` folder to `out`, replacing what `out` held.
fn replace_dir(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        let mut aside = tmp.as_os_str().to_owned();
        aside.push("-old");
        let aside = PathBuf::from(aside);
        fs::rename(out, &aside).map_err(|e| Error::io(out, e))?;
        if let Err(e) = fs::rename(tmp, out) {
            // Put the old package back: nothing is lost when the swap fails.
            let _ = fs::rename(&aside, out);
            return Err(Error::io(out, e));
        }
        fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
    } else {
        fs::rename(tmp, out).map_err(|e| Error::io(out, e))?;
    }
    Ok(())
}
