//! The one error type of `reticle-runtime`.

use std::path::PathBuf;

/// Errors from loading ONNX Runtime and running model packages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ONNX Runtime shared library was not found or could not be loaded.
    #[error("ONNX Runtime: {0}")]
    OrtLibrary(String),
    /// An ONNX Runtime call failed.
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
    /// A contract-level error (manifest, tokenizer, answer grammar, image).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// The model package does not match what its manifest promises.
    #[error("model package {path}: {message}")]
    Package { path: PathBuf, message: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
