//! The one error type of `reticle-agents`.

/// Errors from the agents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract-level error (dataset, suites, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// A runtime error (ONNX Runtime, model package).
    #[error(transparent)]
    Runtime(#[from] reticle_runtime::Error),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
