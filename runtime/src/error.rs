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
    /// An execution provider was asked for and cannot be used.
    #[error("execution provider {provider}: {message}")]
    Provider { provider: String, message: String },
    /// A graph returned something the decoding loop cannot use (wrong shape, type, NaN).
    #[error("{graph}: {message}")]
    Output {
        graph: &'static str,
        message: String,
    },
    /// A value passed by the caller is out of its valid range.
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    /// The text reader's files or graphs are missing, corrupt or not what it expects.
    #[error("text reader: {0}")]
    Ocr(String),
    /// A blocking task of the async API did not finish (panicked or was cancelled).
    #[error("grounding task failed: {0}")]
    Task(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            message: message.into(),
        }
    }
}
