//! Robot targets: ground a referring expression in an RGB-D frame and turn the answer into
//! a 3-D point in the robot's base frame.
//!
//! ```text
//! RGB + instruction ──Grounder──► pixel (original image, raw)
//!   ├─ depth: median of the valid values in a window around the RAW pixel (depth.rs)
//!   └─ lens: iterative inverse of Brown–Conrady → undistorted pixel (lens.rs)
//!        └─ pinhole deprojection → camera frame → camera-to-base isometry (camera.rs)
//!             └─ workspace limits → RobotTarget (pipeline.rs)
//! ```
//!
//! Pixel convention (everywhere in reticle): pixel `(u, v)` covers `[u, u+1) × [v, v+1)`;
//! a camera file with OpenCV/ROS principal points says `pixel_centers = "integer"`.
//! Camera frame: x right, y down, z forward, metres. Nothing NaN or infinite is returned.

mod camera;
mod depth;
pub mod error;
mod lens;
mod pipeline;

pub use camera::{CameraModel, Distortion, Extrinsics, PixelCenters, Workspace};
pub use depth::{decode_depth_png, median_depth, read_depth_png, DepthSample, MAX_WINDOW};
pub use error::{Error, Result};
pub use lens::UNDISTORT_TOLERANCE_PX;
pub use pipeline::{check_sizes, locate, refer, Location, ReferOptions, RobotTarget, RobotTimings};
pub use reticle_models::imageio::Depth16;
