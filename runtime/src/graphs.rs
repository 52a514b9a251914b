//! The three ONNX sessions of a package and the check of their I/O against the manifest.
//!
//! [`Manifest::load`](reticle_models::manifest::Manifest::load) checks what can be checked
//! without ONNX Runtime; here the graphs themselves are opened and every input and output
//! the decoding loop uses is checked by name, element type, rank and — where the graph has
//! a fixed size — dimension, so that a package that does not fit fails at load time with
//! the file and the name, not in the middle of decoding.

use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use reticle_models::manifest::{DecoderSpec, GraphSpec, Graphs as GraphFiles, PositionScheme};

use crate::error::{Error, Result};
use crate::provider::{self, Provider};

/// Session settings shared by the three graphs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionConfig {
    pub provider: Provider,
    /// Intra-op threads per session; `None` lets ONNX Runtime choose.
    pub intra_threads: Option<usize>,
}

/// One set of sessions: what one caller needs to ground an image.
#[derive(Debug)]
pub(crate) struct Graphs {
    pub vision: Session,
    pub embed: Session,
    pub decoder: Session,
}

/// What a graph input or output must look like. `dims` holds the expected size of each axis,
/// `None` where any size is fine; a graph axis that is dynamic (`-1`) matches anything.
pub(crate) struct Expect {
    name: String,
    ty: TensorElementType,
    dims: Vec<Option<i64>>,
}

pub(crate) fn expect(
    name: impl Into<String>,
    ty: TensorElementType,
    dims: &[Option<usize>],
) -> Expect {
    Expect {
        name: name.into(),
        ty,
        dims: dims.iter().map(|d| d.map(|v| v as i64)).collect(),
    }
}

/// What a package's vision encoder takes and gives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VisionInput {
    /// ReticleVLM: `pixel_values [B, C, H, W]` → `image_features [B, num_image_tokens, hidden]`.
    Planes {
        channels: usize,
        height: usize,
        width: usize,
    },
    /// Qwen2-VL: `pixel_values [n_patches, patch_dim]` and `image_grid_thw [1, 3]` →
    /// `image_features [n_patches / merge², hidden]` (dynamic resolution).
    Patches { patch_dim: usize },
}

/// The three graphs of a package and what their I/O must look like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'m> {
    pub files: &'m GraphFiles,
    pub decoder: &'m DecoderSpec,
    pub vision: VisionInput,
}

/// A graph's role, its spec and its expected inputs and outputs.
type GraphExpect<'m> = (&'static str, &'m GraphSpec, Vec<Expect>, Vec<Expect>);

/// The expected I/O of the three graphs of a layout.
fn expectations<'m>(layout: &Layout<'m>) -> [GraphExpect<'m>; 3] {
    use TensorElementType::{Float32 as F32, Int64 as I64};
    let d = layout.decoder;
    let hidden = Some(d.hidden_size);
    let kv = [None, Some(d.num_kv_heads), None, Some(d.head_dim)];
    let positions: &[Option<usize>] = match d.position_scheme {
        PositionScheme::Linear => &[None, None],
        PositionScheme::Mrope => &[Some(3), None, None],
    };
    let mut dec_in = vec![
        expect("inputs_embeds", F32, &[None, None, hidden]),
        expect("attention_mask", I64, &[None, None]),
        expect("position_ids", I64, positions),
    ];
    let mut dec_out = vec![expect("logits", F32, &[None, None, Some(d.vocab_size)])];
    for i in 0..d.num_layers {
        for kind in ["key", "value"] {
            dec_in.push(expect(format!("past_key_values.{i}.{kind}"), F32, &kv));
            dec_out.push(expect(format!("present.{i}.{kind}"), F32, &kv));
        }
    }
    let (vision_in, vision_out) = match layout.vision {
        VisionInput::Planes {
            channels,
            height,
            width,
        } => (
            vec![expect(
                "pixel_values",
                F32,
                &[None, Some(channels), Some(height), Some(width)],
            )],
            vec![expect(
                "image_features",
                F32,
                &[None, Some(d.num_image_tokens), hidden],
            )],
        ),
        VisionInput::Patches { patch_dim } => (
            vec![
                expect("pixel_values", F32, &[None, Some(patch_dim)]),
                expect("image_grid_thw", I64, &[Some(1), Some(3)]),
            ],
            vec![expect("image_features", F32, &[None, hidden])],
        ),
    };
    let files = layout.files;
    [
        (
            "vision_encoder",
            &files.vision_encoder,
            vision_in,
            vision_out,
        ),
        (
            "embed_tokens",
            &files.embed_tokens,
            vec![expect("input_ids", I64, &[None, None])],
            vec![expect("inputs_embeds", F32, &[None, None, hidden])],
        ),
        ("decoder", &files.decoder, dec_in, dec_out),
    ]
}

/// Compares one side (inputs or outputs) of a session with what is expected.
pub(crate) fn check_side(
    file: &str,
    side: &str,
    actual: &[ort::value::Outlet],
    expected: &[Expect],
) -> std::result::Result<(), String> {
    let names = || {
        actual
            .iter()
            .map(|o| o.name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for want in expected {
        let Some(got) = actual.iter().find(|o| o.name() == want.name) else {
            return Err(format!(
                "{file} has no {side} `{}` ({side}s: {})",
                want.name,
                names()
            ));
        };
        let ValueType::Tensor { ty, shape, .. } = got.dtype() else {
            return Err(format!(
                "{file} {side} `{}` is not a tensor ({:?})",
                want.name,
                got.dtype()
            ));
        };
        if *ty != want.ty {
            return Err(format!(
                "{file} {side} `{}` has element type {ty}, expected {}",
                want.name, want.ty
            ));
        }
        if shape.len() != want.dims.len() {
            return Err(format!(
                "{file} {side} `{}` has rank {} (shape {shape}), expected rank {}",
                want.name,
                shape.len(),
                want.dims.len()
            ));
        }
        for (axis, (&g, w)) in shape.iter().zip(&want.dims).enumerate() {
            if let Some(w) = *w {
                if g >= 0 && g != w {
                    return Err(format!(
                        "{file} {side} `{}` has size {g} on axis {axis} (shape {shape}), the \
                         manifest says {w}",
                        want.name
                    ));
                }
            }
        }
    }
    if side == "input" {
        if let Some(extra) = actual
            .iter()
            .find(|o| !expected.iter().any(|w| w.name == o.name()))
        {
            return Err(format!(
                "{file} has an input `{}` that the manifest does not name (inputs: {})",
                extra.name(),
                names()
            ));
        }
    }
    Ok(())
}

/// Opens the graph `file` of the package in `dir` on `cfg`'s provider.
pub(crate) fn open(dir: &Path, file: &str, cfg: SessionConfig) -> Result<Session> {
    let path = dir.join(file);
    let package_err = |message: String| Error::Package {
        path: dir.to_path_buf(),
        message,
    };
    let env = crate::ort_lib::environment()?;
    let mut builder = Session::builder(&env)?;
    if let Some(n) = cfg.intra_threads {
        builder = builder
            .with_intra_threads(n)
            .map_err(ort::Error::<()>::from)?;
    }
    let mut builder = provider::register(builder, cfg.provider)?;
    builder.commit_from_file(&path).map_err(|e| {
        let message = format!("cannot load {file}: {e}");
        if matches!(cfg.provider, Provider::Cuda(_)) && e.to_string().contains("CUDA") {
            Error::Provider {
                provider: cfg.provider.to_string(),
                message,
            }
        } else {
            package_err(message)
        }
    })
}

impl Graphs {
    /// Opens the three graphs of the package in `dir` with a concrete provider and checks
    /// their I/O against `layout` (the manifest's).
    pub(crate) fn open(dir: &Path, layout: &Layout<'_>, cfg: SessionConfig) -> Result<Self> {
        let [vision, embed, decoder] = expectations(layout).map(|(role, spec, ins, outs)| {
            let session = open(dir, &spec.file, cfg)?;
            check_side(&spec.file, "input", session.inputs(), &ins)
                .and_then(|()| check_side(&spec.file, "output", session.outputs(), &outs))
                .map_err(|message| Error::Package {
                    path: dir.to_path_buf(),
                    message,
                })?;
            tracing::debug!(graph = role, file = %spec.file, "graph checked");
            Ok::<_, Error>(session)
        });
        Ok(Self {
            vision: vision?,
            embed: embed?,
            decoder: decoder?,
        })
    }
}
