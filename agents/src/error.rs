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
    /// Robot: a camera file or camera JSON that does not parse or fails validation
    /// (`origin` is the file, or `camera` for in-memory JSON; the message names the field).
    #[error("{origin}: {message}")]
    Camera { origin: String, message: String },
    /// Robot: an RGB or depth image that cannot be used (unreadable, 8-bit depth, sizes that
    /// disagree with each other or with the camera).
    #[error("{what}: {message}")]
    RobotImage { what: String, message: String },
    /// Robot: every depth value in the window around the target pixel is a hole (0).
    #[error(
        "no valid depth at pixel ({:.1}, {:.1}): all {n_pixels} depth values in the \
         {window}x{window} window around it are 0 (holes)",
        .pixel[0], .pixel[1]
    )]
    NoValidDepth {
        pixel: [f64; 2],
        window: u32,
        n_pixels: usize,
    },
    /// Robot: the target lies outside the camera file's workspace limits.
    #[error(
        "target ({:.3}, {:.3}, {:.3}) m in frame `{frame_id}` is outside the workspace \
         limits min ({:.3}, {:.3}, {:.3}) max ({:.3}, {:.3}, {:.3})",
        .xyz_m[0], .xyz_m[1], .xyz_m[2], .min[0], .min[1], .min[2], .max[0], .max[1], .max[2]
    )]
    OutsideWorkspace {
        xyz_m: [f64; 3],
        frame_id: String,
        min: [f64; 3],
        max: [f64; 3],
    },
    /// Robot: the target is farther from the camera than the camera file's `max_range_m`.
    #[error(
        "target is {distance_m:.3} m from the camera, beyond the maximum range of \
         {max_range_m} m (camera max_range_m)"
    )]
    BeyondRange { distance_m: f64, max_range_m: f64 },
    /// Robot: the model's answer gives no usable point (unparseable, a label or count, or a
    /// point outside the image).
    #[error("the model's answer {text:?} gives no target point: {message}")]
    NoTargetPoint { text: String, message: String },
    /// Robot: a computed value is NaN or infinite (never returned to callers).
    #[error("non-finite {what}: {message}")]
    NonFinite { what: &'static str, message: String },
    /// Robot: an option out of its valid range (`window`, …).
    #[error("invalid robot option {what}: {message}")]
    RobotOption { what: &'static str, message: String },
    /// The grounding service cannot start with these settings, or failed while serving.
    #[error("serve: {0}")]
    Serve(String),
    /// Desktop: listing or capturing monitors failed (xcap).
    #[error("screen capture: {0}")]
    Capture(String),
    /// Desktop: no such monitor (`--monitor N` out of range, or it went away).
    #[error("{0}")]
    Monitor(String),
    /// Desktop: the input backend (enigo) failed.
    #[error("input: {0}")]
    Input(String),
    /// Desktop: a safety check refused to act (off the monitor, unparseable answer,
    /// `--max-actions`, corner failsafe, not confirmed).
    #[error("refused: {0}")]
    Refused(crate::desktop::safety::Refusal),
    /// Desktop: `--confirm` could not ask.
    #[error("{0}")]
    Confirm(String),
    /// Desktop: a plan file that does not parse (the message names the file and line).
    #[error("plan {0}")]
    Plan(String),
    /// Desktop: after a plan step the screen did not change within the step timeout.
    #[error("the screen did not change within {waited_s:.1} s after the action")]
    NoScreenChange { waited_s: f64 },
    /// No `--model` was given and no default package was found (see `defaults`).
    #[error("{0}")]
    NoModel(String),
    /// Desktop: writing a recorded step or an annotated image failed.
    #[error("record: {0}")]
    Record(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
