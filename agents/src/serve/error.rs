//! The error type of the grounding service (`reticle serve`); request errors are HTTP
//! answers (`api::ApiError`), not this.

/// Why the service cannot start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that would make an unsafe or useless service, or a package loaded with
    /// fewer workers than the service admits.
    #[error("serve: {0}")]
    Config(String),
}

/// Result alias for the service.
pub type Result<T, E = Error> = std::result::Result<T, E>;
