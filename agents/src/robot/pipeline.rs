//! The robot pipeline: referring expression → pixel → depth → 3-D point in the base frame.
//!
//! [`refer`] grounds the instruction with a [`Grounder`] and hands the answer's pixel to
//! [`locate`], the geometric half (also usable on its own when a controller already has a
//! pixel): undistort, robust depth, pinhole deprojection, camera-to-base isometry, workspace
//! check. Nothing non-finite is ever returned.

use std::time::Instant;

use image::DynamicImage;
use reticle_models::grammar::Value;
use reticle_models::imageio::Depth16;
use reticle_models::manifest::Channels;
use reticle_models::preprocess::DepthRef;
use reticle_runtime::{millis, DecodeOptions, Frame, GroundOptions, ImageInput, Pipeline};
use serde::{Deserialize, Serialize};

use super::camera::CameraModel;
use super::depth::{check_window, median_depth};
use super::error::{Error, Result};

/// Options of [`refer`] and [`locate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReferOptions {
    /// Side of the square depth window (odd, pixels) whose valid values' median is the depth.
    pub window: u32,
    /// How the model decodes (greedy by default).
    pub decode: DecodeOptions,
    /// Return targets outside the camera's workspace limits (with `within_workspace: false`)
    /// instead of failing with [`Error::OutsideWorkspace`].
    pub allow_outside: bool,
}

impl Default for ReferOptions {
    fn default() -> Self {
        Self {
            window: 5,
            decode: DecodeOptions::greedy(),
            allow_outside: false,
        }
    }
}

impl ReferOptions {
    pub fn validate(&self) -> Result<()> {
        check_window(self.window)?;
        self.decode.validate()?;
        Ok(())
    }
}

/// Where a pixel of the frame is in 3-D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The camera's base frame name.
    pub frame_id: String,
    /// The target in the base frame, metres.
    pub xyz_m: [f64; 3],
    /// The target in the camera frame (x right, y down, z forward), metres.
    pub camera_xyz_m: [f64; 3],
    /// The pixel in the original (raw, distorted) image; reticle convention: pixel `(u, v)`
    /// covers `[u, u+1) × [v, v+1)`.
    pub pixel: [f64; 2],
    /// The same pixel with lens distortion removed (pinhole model).
    pub undistorted_pixel: [f64; 2],
    /// Camera-frame depth (z) used, metres.
    pub depth_m: f64,
    /// Valid (non-zero) depth values in the window; the depth is their median.
    pub depth_valid_pixels: usize,
    /// False only when the caller allowed targets outside the workspace limits and this
    /// one is outside; true when the camera has no limits.
    pub within_workspace: bool,
}

/// Time spent in each step, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RobotTimings {
    pub preprocess_ms: f64,
    pub encode_ms: f64,
    pub decode_ms: f64,
    /// Undistortion, depth, deprojection and transform.
    pub locate_ms: f64,
    pub total_ms: f64,
}

/// The answer of [`refer`]: a 3-D target in the robot's base frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotTarget {
    /// Where the model's point is in 3-D (the point is the centre when it answered a box);
    /// flattened, so the JSON has `frame_id`, `xyz_m`, `pixel`, … at the top level.
    #[serde(flatten)]
    pub location: Location,
    pub instruction: String,
    /// The model's completion as written.
    pub answer_text: String,
    pub timings: RobotTimings,
}

/// Checks that the RGB frame, the depth image and the camera all have the same size.
pub fn check_sizes(rgb: (u32, u32), depth: (u32, u32), camera: &CameraModel) -> Result<()> {
    if rgb != depth {
        return Err(Error::RobotImage {
            what: "depth image".into(),
            message: format!(
                "is {}x{} but the RGB image is {}x{}; the depth must be aligned to the RGB \
                 frame pixel for pixel",
                depth.0, depth.1, rgb.0, rgb.1
            ),
        });
    }
    if rgb != (camera.width, camera.height) {
        return Err(Error::RobotImage {
            what: "camera".into(),
            message: format!(
                "width x height is {}x{} but the images are {}x{}; the intrinsics must \
                 belong to this image size",
                camera.width, camera.height, rgb.0, rgb.1
            ),
        });
    }
    Ok(())
}

/// The 3-D location of `pixel` (original image pixels, reticle convention) in `depth`.
pub fn locate(
    camera: &CameraModel,
    depth: &Depth16,
    pixel: [f64; 2],
    opts: &ReferOptions,
) -> Result<Location> {
    check_window(opts.window)?;
    let (w, h) = depth.dimensions();
    if (w, h) != (camera.width, camera.height) {
        return Err(Error::RobotImage {
            what: "camera".into(),
            message: format!(
                "width x height is {}x{} but the depth image is {w}x{h}; the intrinsics must \
                 belong to this image size",
                camera.width, camera.height
            ),
        });
    }
    if !(pixel[0].is_finite() && pixel[1].is_finite()) {
        return Err(Error::NonFinite {
            what: "pixel",
            message: format!("({}, {})", pixel[0], pixel[1]),
        });
    }
    let (fw, fh) = (f64::from(w), f64::from(h));
    if !(0.0..=fw).contains(&pixel[0]) || !(0.0..=fh).contains(&pixel[1]) {
        return Err(Error::RobotImage {
            what: "pixel".into(),
            message: format!(
                "({:.2}, {:.2}) is outside the {w}x{h} image",
                pixel[0], pixel[1]
            ),
        });
    }
    // The pixel containing the point; a point on the right or bottom edge belongs to the
    // last column or row. The depth is aligned to the RAW image, so no undistortion here.
    let idx = (
        (pixel[0].floor() as u32).min(w - 1),
        (pixel[1].floor() as u32).min(h - 1),
    );
    let sample = median_depth(depth, idx, opts.window, pixel)?;
    let depth_m = sample.units * camera.depth_scale;
    let undistorted_pixel = camera.undistort_pixel(pixel)?;
    let p_cam = camera.deproject(undistorted_pixel, depth_m);
    let iso = camera.camera_to_base()?;
    let p_base = iso * p_cam;
    let camera_xyz_m = [p_cam.x, p_cam.y, p_cam.z];
    let xyz_m = [p_base.x, p_base.y, p_base.z];
    finite(
        "target",
        &[depth_m, undistorted_pixel[0], undistorted_pixel[1]],
    )?;
    finite("target", &camera_xyz_m)?;
    finite("target", &xyz_m)?;
    check_range(camera, camera_xyz_m)?;
    let within_workspace = camera.workspace.is_none_or(|ws| ws.contains(xyz_m));
    if !within_workspace && !opts.allow_outside {
        if let Some(ws) = camera.workspace {
            return Err(Error::OutsideWorkspace {
                xyz_m,
                frame_id: camera.frame_id.clone(),
                min: ws.min,
                max: ws.max,
            });
        }
    }
    tracing::debug!(
        ?pixel,
        ?undistorted_pixel,
        depth_m,
        valid = sample.valid_pixels,
        ?xyz_m,
        within_workspace,
        "located"
    );
    Ok(Location {
        frame_id: camera.frame_id.clone(),
        xyz_m,
        camera_xyz_m,
        pixel,
        undistorted_pixel,
        depth_m,
        depth_valid_pixels: sample.valid_pixels,
        within_workspace,
    })
}

fn finite(what: &'static str, values: &[f64]) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite {
            what,
            message: format!("{values:?} (check the camera's depth scale and intrinsics)"),
        })
    }
}

/// Grounds `instruction` in the RGB-D frame and returns the target in the camera's base
/// frame. The RGB image, the depth image and the camera must have the same size; the depth
/// is passed to the model only when its package takes RGB-D input.
pub fn refer(
    grounder: &Pipeline,
    rgb: &DynamicImage,
    depth: &Depth16,
    camera: &CameraModel,
    instruction: &str,
    opts: &ReferOptions,
) -> Result<RobotTarget> {
    let t0 = Instant::now();
    opts.validate()?;
    camera.validate()?;
    check_sizes((rgb.width(), rgb.height()), depth.dimensions(), camera)?;
    let depth_ref = match grounder.manifest().preprocess.channels {
        Channels::Rgbd => Some(DepthRef::new(
            depth.width(),
            depth.height(),
            depth.as_raw(),
            camera.depth_scale,
        )?),
        Channels::Rgb => None,
    };
    let frame = Frame {
        image: ImageInput::Image(rgb),
        depth: depth_ref,
    };
    let options = GroundOptions {
        decode: opts.decode.clone(),
        spans: false,
    };
    // A tabletop frame has no text to read: the policy grounds on pixels alone (as the
    // spatial suite trained it), and the package's text reader is not run (on the 2-core CPU
    // it costs ~0.4 s per frame for nothing).
    let grounding = grounder.ground_with_spans(frame, instruction, &[], &options)?;
    let no_point = |message: String| Error::NoTargetPoint {
        text: grounding.text.clone(),
        message,
    };
    if grounding.names_nothing() {
        return Err(no_point(format!(
            "the model says the instruction names nothing in the frame (probability {:.2})",
            grounding
                .nothing
                .or(grounding.confidence)
                .unwrap_or(f32::NAN)
        )));
    }
    let pixel = match &grounding.answer {
        Ok(Value::Points(ps)) => ps.first().map(|p| [p.x, p.y]),
        Ok(Value::Boxes(ds)) => ds.first().map(|d| {
            let c = d.bbox.center();
            [c.x, c.y]
        }),
        Ok(Value::Count(n)) => return Err(no_point(format!("it is a count ({n}), not a point"))),
        Ok(Value::Label(l)) => return Err(no_point(format!("it is a label ({l:?}), not a point"))),
        Err(e) => return Err(no_point(e.to_string())),
    }
    .ok_or_else(|| no_point("it holds no point".into()))?;
    let (w, h) = (f64::from(camera.width), f64::from(camera.height));
    // `contains` is false for NaN, so this also refuses non-finite points.
    let inside = (0.0..=w).contains(&pixel[0]) && (0.0..=h).contains(&pixel[1]);
    if !inside {
        return Err(no_point(format!(
            "the point ({:.1}, {:.1}) is outside the {}x{} image",
            pixel[0], pixel[1], camera.width, camera.height
        )));
    }
    let t_located = Instant::now();
    let loc = locate(camera, depth, pixel, opts)?;
    let t_end = Instant::now();
    let t = &grounding.timings;
    Ok(RobotTarget {
        location: loc,
        instruction: instruction.to_string(),
        answer_text: grounding.text.clone(),
        timings: RobotTimings {
            preprocess_ms: millis(t.preprocess),
            encode_ms: millis(t.encode),
            decode_ms: millis(t.decode),
            locate_ms: millis(t_end - t_located),
            total_ms: millis(t_end - t0),
        },
    })
}

/// Refuses a target beyond the camera's maximum range (never waived by `allow_outside`).
fn check_range(camera: &CameraModel, camera_xyz_m: [f64; 3]) -> Result<()> {
    let distance_m = camera_xyz_m.iter().map(|v| v * v).sum::<f64>().sqrt();
    if distance_m > camera.max_range_m {
        return Err(Error::BeyondRange {
            distance_m,
            max_range_m: camera.max_range_m,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::camera::tests::camera;
    use crate::robot::camera::{Distortion, Extrinsics, Workspace};
    use image::{ImageBuffer, Luma};

    /// 640x480 depth: 2000 units everywhere, with a ring of holes and one outlier around
    /// pixel (420, 140).
    fn depth() -> Depth16 {
        let mut d: Depth16 = ImageBuffer::from_pixel(640, 480, Luma([2000]));
        for (x, y) in [(419, 139), (420, 139), (421, 141), (418, 140), (422, 142)] {
            d.put_pixel(x, y, Luma([0]));
        }
        d.put_pixel(421, 140, Luma([60000]));
        d
    }

    fn camera_above_table() -> CameraModel {
        // Translation (0.5, −0.2, 1.0) and a 90° turn about z (see camera.rs's tests).
        let h = std::f64::consts::FRAC_1_SQRT_2;
        CameraModel {
            extrinsics: Extrinsics::Pose {
                translation: [0.5, -0.2, 1.0],
                quaternion_xyzw: [0.0, 0.0, h, h],
            },
            ..camera()
        }
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    #[test]
    fn locate_matches_hand_computed_values() {
        let cam = camera_above_table();
        let loc = locate(&cam, &depth(), [420.5, 140.5], &ReferOptions::default()).unwrap();
        // Depth: median of 2000s (holes skipped, one outlier among ≥ 19 values) · 0.001 = 2 m.
        assert_eq!(loc.depth_m, 2.0);
        assert_eq!(loc.depth_valid_pixels, 25 - 5);
        // Camera frame: x = (420.5 − 320)/500 · 2 = 0.402, y = (140.5 − 240)/400 · 2 = −0.4975.
        assert!(
            close(&loc.camera_xyz_m, &[0.402, -0.4975, 2.0], 1e-12),
            "{loc:?}"
        );
        // Base: R·p = (0.4975, 0.402, 2.0), plus (0.5, −0.2, 1.0).
        assert!(close(&loc.xyz_m, &[0.9975, 0.202, 3.0], 1e-12), "{loc:?}");
        assert_eq!(loc.undistorted_pixel, [420.5, 140.5]);
        assert!(loc.within_workspace);
        assert_eq!(loc.frame_id, "base");
    }

    #[test]
    fn locate_undistorts_the_pixel_but_reads_depth_at_the_raw_one() {
        let cam = CameraModel {
            distortion: Some(Distortion {
                k1: -0.2,
                ..Distortion::default()
            }),
            ..camera()
        };
        // Hand-computed: x = 0.6, y = −0.55, r² = 0.6625, radial = 1 − 0.2 · 0.6625 = 0.8675
        // → raw pixel (320 + 0.6 · 0.8675 · 500, 240 − 0.55 · 0.8675 · 400) = (580.25, 49.15).
        let ideal = [620.0, 20.0];
        let raw = cam.distort_pixel(ideal);
        assert!(close(&raw, &[580.25, 49.15], 1e-9), "{raw:?}");
        // Depth 1000 only at the raw pixel, read with a 1x1 window.
        let mut d: Depth16 = ImageBuffer::new(640, 480);
        d.put_pixel(580, 49, Luma([1000]));
        let opts = ReferOptions {
            window: 1,
            ..ReferOptions::default()
        };
        let loc = locate(&cam, &d, raw, &opts).unwrap();
        assert!(close(&loc.undistorted_pixel, &ideal, 1e-6), "{loc:?}");
        let want = [(620.0 - 320.0) / 500.0, (20.0 - 240.0) / 400.0, 1.0];
        assert!(close(&loc.camera_xyz_m, &want, 1e-8), "{loc:?}");
    }

    #[test]
    fn workspace_limits_refuse_or_flag_the_target() {
        let cam = CameraModel {
            workspace: Some(Workspace {
                min: [-1.0, -1.0, 0.0],
                max: [1.0, 1.0, 2.5],
            }),
            ..camera_above_table()
        };
        let e = locate(&cam, &depth(), [420.5, 140.5], &ReferOptions::default()).unwrap_err();
        assert!(matches!(e, Error::OutsideWorkspace { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("3.000)") && msg.contains("frame `base`"),
            "{msg}"
        );
        let opts = ReferOptions {
            allow_outside: true,
            ..ReferOptions::default()
        };
        let loc = locate(&cam, &depth(), [420.5, 140.5], &opts).unwrap();
        assert!(!loc.within_workspace);
        // Closer depth: inside.
        let near: Depth16 = ImageBuffer::from_pixel(640, 480, Luma([1000]));
        assert!(
            locate(&cam, &near, [420.5, 140.5], &ReferOptions::default())
                .unwrap()
                .within_workspace
        );
    }

    #[test]
    fn nothing_beyond_the_maximum_range_leaves() {
        // 2 m of depth: fine at the default 10 m, refused at 1.5 m, with or without
        // `allow_outside`.
        let opts = ReferOptions {
            allow_outside: true,
            ..ReferOptions::default()
        };
        assert!(locate(&camera(), &depth(), [320.5, 240.5], &opts).is_ok());
        let short = CameraModel {
            max_range_m: 1.5,
            ..camera()
        };
        let e = locate(&short, &depth(), [320.5, 240.5], &opts).unwrap_err();
        assert!(matches!(e, Error::BeyondRange { .. }), "{e:?}");
        assert!(
            e.to_string().contains("beyond the maximum range of 1.5 m"),
            "{e}"
        );
    }

    #[test]
    fn nothing_non_finite_leaves() {
        let opts = ReferOptions::default();
        // A camera that skipped validation: NaN principal point, infinite depth scale.
        let nan_cx = CameraModel {
            cx: f64::NAN,
            ..camera()
        };
        let e = locate(&nan_cx, &depth(), [100.5, 100.5], &opts).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
        let huge = CameraModel {
            depth_scale: f64::MAX,
            ..camera()
        };
        let e = locate(&huge, &depth(), [100.5, 100.5], &opts).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
        let e = locate(&camera(), &depth(), [f64::NAN, 1.0], &opts).unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e:?}");
    }

    #[test]
    fn bad_pixels_sizes_and_holes_are_errors() {
        let opts = ReferOptions::default();
        let cam = camera();
        for p in [[-0.1, 10.0], [10.0, 480.5], [641.0, 0.0]] {
            let e = locate(&cam, &depth(), p, &opts).unwrap_err();
            assert!(e.to_string().contains("outside the 640x480 image"), "{e}");
        }
        // The bottom-right corner itself belongs to the last pixel.
        locate(&cam, &depth(), [640.0, 480.0], &opts).unwrap();
        let small: Depth16 = ImageBuffer::from_pixel(320, 240, Luma([1000]));
        let e = locate(&cam, &small, [10.0, 10.0], &opts).unwrap_err();
        assert!(e.to_string().contains("320x240"), "{e}");
        let holes: Depth16 = ImageBuffer::new(640, 480);
        let e = locate(&cam, &holes, [10.0, 10.0], &opts).unwrap_err();
        assert!(matches!(e, Error::NoValidDepth { .. }), "{e:?}");

        let e = check_sizes((640, 480), (640, 479), &cam)
            .unwrap_err()
            .to_string();
        assert!(e.contains("640x479") && e.contains("aligned"), "{e}");
        let e = check_sizes((320, 240), (320, 240), &cam)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("camera:") && e.contains("640x480"), "{e}");
    }
}
