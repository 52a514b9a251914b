//! The error type of the robot pipeline (`reticle robot`, `/v1/refer`).

/// Errors from the robot pipeline: camera files, images, depth and the target checks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract-level error (images, datasets, manifest).
    #[error(transparent)]
    Models(#[from] reticle_models::Error),
    /// A runtime error (ONNX Runtime, model package).
    #[error(transparent)]
    Runtime(#[from] reticle_runtime::Error),
    /// A camera file or camera JSON that does not parse or fails validation
    /// (`origin` is the file, or `camera` for in-memory JSON; the message names the field).
    #[error("{origin}: {message}")]
    Camera { origin: String, message: String },
    /// An RGB or depth image that cannot be used (unreadable, 8-bit depth, sizes that
    /// disagree with each other or with the camera).
    #[error("{what}: {message}")]
    RobotImage { what: String, message: String },
    /// Every depth value in the window around the target pixel is a hole (0).
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
    /// The target lies outside the camera file's workspace limits.
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
    /// The target is farther from the camera than the camera file's `max_range_m`.
    #[error(
        "target is {distance_m:.3} m from the camera, beyond the maximum range of \
         {max_range_m} m (camera max_range_m)"
    )]
    BeyondRange { distance_m: f64, max_range_m: f64 },
    /// The model's answer gives no usable point (unparseable, a label or count, or a
    /// point outside the image).
    #[error("the model's answer {text:?} gives no target point: {message}")]
    NoTargetPoint { text: String, message: String },
    /// A computed value is NaN or infinite (never returned to callers).
    #[error("non-finite {what}: {message}")]
    NonFinite { what: &'static str, message: String },
    /// An option out of its valid range (`window`, …).
    #[error("invalid robot option {what}: {message}")]
    RobotOption { what: &'static str, message: String },
}

/// Result alias for the robot pipeline.
pub type Result<T, E = Error> = std::result::Result<T, E>;
