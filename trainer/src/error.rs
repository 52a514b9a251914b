//! The one error type of `reticle-trainer`.

use std::path::PathBuf;

/// Errors from training, checkpointing and export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A libtorch operation failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A contract-level error (dataset, rewards, tokenizer, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// A training or model configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A dataset record cannot be turned into a training example.
    #[error("record {id}: {message}")]
    Example { id: String, message: String },
    /// The requested device cannot be used.
    #[error("device {requested}: {message}")]
    Device { requested: String, message: String },
    /// A file or folder of a run could not be read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        // Not `source`: the message already carries it, and a source would make
        // `anyhow`'s `{:#}` print it twice.
        cause: std::io::Error,
    },
    /// A run directory cannot be created or resumed.
    #[error("run directory {}: {message}", path.display())]
    Run { path: PathBuf, message: String },
    /// A checkpoint cannot be written or read back.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    /// A tensor about to be checkpointed holds NaN or infinity.
    #[error("refusing to checkpoint step {step}: {group} tensor `{name}` holds non-finite values")]
    NonFinite {
        step: u64,
        group: &'static str,
        name: String,
    },
    /// Named tensors do not fit the variables of a model.
    #[error("loading weights: {0}")]
    Weights(String),
    /// A metrics record cannot be written.
    #[error("metrics {}: {message}", path.display())]
    Metrics { path: PathBuf, message: String },
    /// A model package cannot be exported (or its parity check failed).
    #[error("export to {}: {message}", path.display())]
    Export { path: PathBuf, message: String },
    /// A plot cannot be drawn.
    #[error("plot: {0}")]
    Plot(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
