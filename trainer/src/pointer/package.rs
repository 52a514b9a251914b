//! Starting a pointer run from an exported package (`--init models/default`): the weights are
//! the graph's initializers, which carry the variables' names (`export::pointer`), so a
//! package without `weights.safetensors` — the shipped default — can still be fine-tuned.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use reticle_models::manifest::{Architecture, Manifest};
use tch::Tensor;

use crate::error::{Error, Result};
use crate::export::proto::{tensor_proto::DataType, ModelProto};
use crate::model::pointer::{PointerConfig, PointerNet};

/// Whether `dir` is a model package (it has a `model.json`).
pub fn is_package(dir: &Path) -> bool {
    dir.join(reticle_models::manifest::MANIFEST_FILE).is_file()
}

/// Loads the pointer package in `dir` into `model`: its manifest must describe the same
/// input, patch size and text hashing as `model`'s config, and its graph must hold every
/// variable of `model` with the same shape, except a relative or nothing head the package
/// lacks (those start fresh, as with `--init` from a run).
pub fn load_package_into(dir: &Path, model: &mut PointerNet) -> Result<()> {
    let bad = |message: String| Error::Config(format!("--init {}: {message}", dir.display()));
    let manifest = Manifest::load(dir)?;
    if manifest.architecture != Architecture::Pointer {
        return Err(bad(format!(
            "is a `{}` package; a pointer run starts from a `pointer` package",
            manifest.architecture
        )));
    }
    let spec = manifest.pointer_spec()?;
    let cfg: &PointerConfig = model.config();
    let p = &manifest.preprocess;
    let mut theirs = cfg.text.clone();
    theirs.max_candidates = spec.text.max_candidates;
    theirs.max_elements = spec.text.max_elements;
    let ours = (cfg.image_width, cfg.image_height, cfg.channels, cfg.cell);
    let pkg = (p.width, p.height, p.channels.count(), spec.cell);
    if ours != pkg || theirs != spec.text {
        return Err(bad(format!(
            "the package's input {}×{}×{} (cell {}, text {:?}) differs from the run's model \
             {}×{}×{} (cell {}, text {:?})",
            pkg.0, pkg.1, pkg.2, pkg.3, spec.text, ours.0, ours.1, ours.2, ours.3, cfg.text
        )));
    }
    if spec.nothing && !cfg.nothing {
        return Err(bad(
            "the package has the nothing head: add `[model.overrides] nothing = true`".into(),
        ));
    }
    let path = dir.join(&spec.graph);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let graph = ModelProto::decode(bytes.as_slice())
        .map_err(|e| bad(format!("{}: not an ONNX model: {e}", spec.graph)))?
        .graph
        .ok_or_else(|| bad(format!("{}: the model has no graph", spec.graph)))?;
    let wanted: HashMap<String, Vec<i64>> = model
        .var_store()
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.size()))
        .collect();
    let has = |n: &str| {
        graph
            .initializer
            .iter()
            .any(|t| t.name.as_deref() == Some(n))
    };
    if has("head.relative.weight") && !cfg.relative {
        return Err(bad(
            "the package has the relative head: add `[model.overrides] relative = true`".into(),
        ));
    }
    let mut named = Vec::new();
    for t in &graph.initializer {
        let name = t.name.clone().unwrap_or_default();
        let Some(shape) = wanted.get(&name) else {
            continue;
        };
        if t.dims != *shape {
            return Err(bad(format!(
                "weight `{name}` has shape {:?} in the package, {shape:?} in the run's model \
                 (a different size preset or override?)",
                t.dims
            )));
        }
        if t.data_type != Some(DataType::Float as i32) {
            return Err(bad(format!("weight `{name}` is not float32")));
        }
        let raw = t.raw_data.as_deref().unwrap_or_default();
        let values: Vec<f32> = if raw.is_empty() {
            t.float_data.clone()
        } else {
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let n: i64 = shape.iter().product();
        if values.len() as i64 != n {
            return Err(bad(format!(
                "weight `{name}` holds {} values, its shape {shape:?} needs {n}",
                values.len()
            )));
        }
        named.push((name, Tensor::from_slice(&values).view(shape.as_slice())));
    }
    tracing::info!(
        package = %dir.display(),
        weights = named.len(),
        of = wanted.len(),
        "weights read from the package's graph"
    );
    model.load_named(named)
}
