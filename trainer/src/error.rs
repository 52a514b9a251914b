//! The one error type of `reticle-trainer`.

/// Errors from training, checkpointing and export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A libtorch operation failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A contract-level error (dataset, rewards, tokenizer, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// The requested device cannot be used.
    #[error("device {requested}: {message}")]
    Device { requested: String, message: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
