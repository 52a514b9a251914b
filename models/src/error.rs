//! The one error type of `reticle-models`.

use std::path::PathBuf;

/// Errors from the contract crate. Messages start lower-case and name the offending input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a named file failed.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        // Not `source`: the message already carries it, and a source would make
        // `anyhow`'s `{:#}` print it twice.
        cause: std::io::Error,
    },
    /// A line of a JSONL dataset file could not be read as a record.
    #[error("{path}:{line}: {message}")]
    Record {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// An answer string does not follow the answer grammar.
    #[error("answer: {0}")]
    Answer(#[from] crate::grammar::ParseError),
    /// A model package manifest is missing, malformed or inconsistent.
    #[error("model package {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    /// A tokenizer could not be built, loaded or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An image could not be decoded, encoded or has unusable dimensions.
    #[error("image {path}: {message}")]
    Image { path: PathBuf, message: String },
    /// A value passed by the caller is out of its valid range.
    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },
    /// A Hugging Face checkpoint folder (config, shards, tokenizer, processor) is unusable.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// JSON that is not a record line (manifests, configs).
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Io`] with the path attached.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// Shorthand for [`Error::Checkpoint`].
    pub fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            message: message.into(),
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
