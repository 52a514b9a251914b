//! The error type of `reticle-agents` as a whole: each agent has its own
//! (`desktop::Error`, `robot::Error`, `serve::Error`); this one wraps them, for callers that
//! use several, and says when no model package was found.

/// Errors from the agents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract-level error (images, datasets, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// A runtime error (ONNX Runtime, model package).
    #[error(transparent)]
    Runtime(#[from] reticle_runtime::Error),
    /// The desktop agent.
    #[error(transparent)]
    Desktop(#[from] crate::desktop::Error),
    /// The robot pipeline.
    #[error(transparent)]
    Robot(#[from] crate::robot::Error),
    /// The grounding service.
    #[error(transparent)]
    Serve(#[from] crate::serve::Error),
    /// No `--model` was given and no default package was found (see `defaults`).
    #[error("{0}")]
    NoModel(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
