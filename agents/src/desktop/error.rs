//! The error type of the desktop agent (`reticle desktop`).

/// Errors from the desktop agent: capture, input, safety refusals, plans and recording.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract-level error (images, datasets, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// A runtime error (ONNX Runtime, model package).
    #[error(transparent)]
    Runtime(#[from] reticle_runtime::Error),
    /// Listing or capturing monitors failed (xcap).
    #[error("screen capture: {0}")]
    Capture(String),
    /// No such monitor (`--monitor N` out of range, or it went away).
    #[error("{0}")]
    Monitor(String),
    /// The input backend (enigo) failed.
    #[error("input: {0}")]
    Input(String),
    /// A safety check refused to act (off the monitor, unparseable answer,
    /// `--max-actions`, corner failsafe, not confirmed).
    #[error("refused: {0}")]
    Refused(super::safety::Refusal),
    /// `--confirm` could not ask.
    #[error("{0}")]
    Confirm(String),
    /// A plan file that does not parse (the message names the file and line).
    #[error("plan {0}")]
    Plan(String),
    /// After a plan step the screen did not change within the step timeout.
    #[error("the screen did not change within {waited_s:.1} s after the action")]
    NoScreenChange { waited_s: f64 },
    /// Writing a recorded step or an annotated image failed.
    #[error("record: {0}")]
    Record(String),
}

/// Result alias for the desktop agent.
pub type Result<T, E = Error> = std::result::Result<T, E>;
