//! `reticle-runtime`: runs reticle model packages with ONNX Runtime (CPU or CUDA).
//!
//! ONNX Runtime is loaded dynamically ([`ort_lib::load`]) so that the binary builds without
//! it and finds the library the set-up script installed. This crate never links libtorch.
//!
//! [`Grounder::load`] opens a package (three ONNX graphs, tokenizer, manifest) and checks
//! every graph against its manifest; [`Grounder::ground`] preprocesses an image exactly as
//! training did ([`reticle_models::preprocess`]), runs the vision encoder, decodes with the
//! KV cache ([`DecodeOptions`]: greedy or seeded sampling) and maps the answer back to
//! original image pixels.
//!
//! - [`provider`]: `cpu`, `cuda[:N]`, `auto` — an explicit CUDA request never falls back;
//! - `graphs`: sessions and their I/O check; `decode`: the one decoding loop (linear or
//!   M-RoPE positions);
//! - `pool`: workers for concurrent callers; [`Grounder::ground_async`] for tokio;
//! - `pointer`: the pointer policy (`architecture: "pointer"`, one graph scoring image patches
//!   and text candidates); [`QwenPolicy`]: Qwen2-VL / Qwen2.5-VL packages (`"qwen2-vl"`, the
//!   checkpoint's processor and chat template, M-RoPE positions); `policy`: the trait
//!   [`Pipeline`] holds them behind, chosen by the manifest's `architecture`.

pub mod calibrate;
mod decode;
pub mod depth;
pub mod error;
pub mod eval;
mod graphs;
mod grounder;
pub mod ort_lib;
pub mod perception;
mod pipeline;
mod pointer;
mod policy;
mod pool;
pub mod provider;
mod qwen;
mod sampling;

pub use decode::{StopReason, Timings};
pub use error::{Error, Result};
pub use grounder::{
    millis, CandidateKind, Grounder, Grounding, ImageInput, LoadOptions, OverruledClick,
    ScoredCandidate,
};
pub use perception::{OcrFiles, Reading, TextReader, TextSpan};
pub use pipeline::{Frame, GroundOptions, Pipeline, ScreenSession};
pub use provider::Provider;
pub use qwen::QwenPolicy;
pub use sampling::DecodeOptions;
