//! The error type of `reticle-suites`.

use std::path::PathBuf;

/// Why a suite could not be configured, rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a named file failed.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        // Not `source`: the message already carries it (as in `reticle_models::Error`).
        cause: std::io::Error,
    },
    /// An image could not be encoded.
    #[error("image {path}: {message}")]
    Image { path: PathBuf, message: String },
    /// A configuration value is out of range, or a sample could not be drawn from it.
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    /// The contract crate refused something: a record, a dataset file, an image.
    #[error(transparent)]
    Model(#[from] reticle_models::Error),
}

impl Error {
    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            message: message.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
