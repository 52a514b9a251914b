//! [`CameraModel`]: the robot's camera file — intrinsics, optional Brown–Conrady distortion,
//! depth scale, camera-to-base extrinsics, base frame name and workspace limits.
//!
//! Read from TOML or JSON (`from_path`) or from a JSON value (`from_json`, for the HTTP
//! service). Unknown keys are errors, so that a typo (`quaternion` for `quaternion_xyzw`)
//! is not silently ignored. See `docs/robot.md` for the file format.

use std::path::Path;

use nalgebra::{Isometry3, Matrix3, Point3, Quaternion, Translation3, UnitQuaternion};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// Largest deviation from orthonormality (`max |RᵀR − I|`, `|det R − 1|`) accepted in an
/// extrinsic matrix, and from unit norm in a quaternion: calibration files print a handful
/// of digits, so exact orthonormality cannot be asked for. The rotation is then projected
/// onto the nearest proper rotation.
const ROTATION_TOLERANCE: f64 = 1e-3;

/// Largest accepted image side, as in the runtime's preprocessing limits.
const MAX_SIDE: u32 = 65_535;

/// How pixel coordinates relate to pixel centres, i.e. what `cx`, `cy` are measured from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelCenters {
    /// reticle's convention (the `spatial` suite, answers of every model package): pixel
    /// `(u, v)` covers `[u, u+1) × [v, v+1)`, its centre is `(u + 0.5, v + 0.5)`.
    #[default]
    Half,
    /// OpenCV / ROS `CameraInfo` convention: the centre of pixel `(u, v)` is `(u, v)`. Use it
    /// for `cx`, `cy` taken from those calibrations.
    Integer,
}

/// Brown–Conrady lens distortion, OpenCV's `plumb_bob` order `k1 k2 p1 p2 k3`; missing
/// coefficients are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Distortion {
    pub k1: f64,
    pub k2: f64,
    pub p1: f64,
    pub p2: f64,
    pub k3: f64,
}

/// Camera-to-base transform: `p_base = R · p_camera + t`.
///
/// In a file it is a table with either `matrix` (4×4, row-major: `[[r00, r01, r02, tx], …,
/// [0, 0, 0, 1]]`) or `translation = [x, y, z]` (metres) plus `quaternion_xyzw = [x, y, z, w]`
/// (unit quaternion, scalar LAST — ROS `geometry_msgs/Quaternion` order, not Eigen's
/// constructor order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ExtrinsicsFile", into = "ExtrinsicsFile")]
pub enum Extrinsics {
    /// Homogeneous 4×4 matrix, row-major.
    Matrix([[f64; 4]; 4]),
    /// Translation (metres) and rotation quaternion `[x, y, z, w]`.
    Pose {
        translation: [f64; 3],
        quaternion_xyzw: [f64; 4],
    },
}

/// The file form of [`Extrinsics`]: exactly one of the two forms must be given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtrinsicsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    matrix: Option<[[f64; 4]; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    translation: Option<[f64; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quaternion_xyzw: Option<[f64; 4]>,
}

impl TryFrom<ExtrinsicsFile> for Extrinsics {
    type Error = String;

    fn try_from(f: ExtrinsicsFile) -> std::result::Result<Self, String> {
        match (f.matrix, f.translation, f.quaternion_xyzw) {
            (Some(m), None, None) => Ok(Extrinsics::Matrix(m)),
            (None, Some(t), Some(q)) => Ok(Extrinsics::Pose {
                translation: t,
                quaternion_xyzw: q,
            }),
            (Some(_), _, _) => Err("extrinsics: give either `matrix` or `translation` + \
                                    `quaternion_xyzw`, not both"
                .into()),
            (None, Some(_), None) => {
                Err("extrinsics: `translation` needs `quaternion_xyzw = [x, y, z, w]`".into())
            }
            (None, None, Some(_)) => {
                Err("extrinsics: `quaternion_xyzw` needs `translation = [x, y, z]`".into())
            }
            (None, None, None) => Err("extrinsics: give `matrix` (4x4, row-major) or \
                                       `translation` + `quaternion_xyzw`"
                .into()),
        }
    }
}

impl From<Extrinsics> for ExtrinsicsFile {
    fn from(e: Extrinsics) -> Self {
        match e {
            Extrinsics::Matrix(m) => ExtrinsicsFile {
                matrix: Some(m),
                ..Self::default()
            },
            Extrinsics::Pose {
                translation,
                quaternion_xyzw,
            } => ExtrinsicsFile {
                matrix: None,
                translation: Some(translation),
                quaternion_xyzw: Some(quaternion_xyzw),
            },
        }
    }
}

impl Extrinsics {
    /// The identity transform (base frame = camera frame).
    pub fn identity() -> Self {
        Extrinsics::Pose {
            translation: [0.0; 3],
            quaternion_xyzw: [0.0, 0.0, 0.0, 1.0],
        }
    }

    /// The checked camera-to-base isometry; errors name the offending field.
    pub fn isometry(&self) -> std::result::Result<Isometry3<f64>, String> {
        match self {
            Extrinsics::Matrix(m) => {
                if m.iter().flatten().any(|v| !v.is_finite()) {
                    return Err("extrinsics.matrix has a non-finite entry".into());
                }
                let last = m[3];
                if last
                    .iter()
                    .zip([0.0, 0.0, 0.0, 1.0])
                    .any(|(a, b)| (a - b).abs() > 1e-9)
                {
                    return Err(format!(
                        "extrinsics.matrix: the last row must be [0, 0, 0, 1], got {last:?}"
                    ));
                }
                let r = Matrix3::new(
                    m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2],
                );
                let off = (r.transpose() * r - Matrix3::identity()).amax();
                let det = r.determinant();
                if off > ROTATION_TOLERANCE || (det - 1.0).abs() > ROTATION_TOLERANCE {
                    return Err(format!(
                        "extrinsics.matrix: the 3x3 rotation block is not a rotation \
                         (max |RᵀR − I| = {off:.2e}, det = {det:.6}; need orthonormal rows \
                         and det = 1 within {ROTATION_TOLERANCE})"
                    ));
                }
                let rotation = UnitQuaternion::from_matrix(&r);
                let t = Translation3::new(m[0][3], m[1][3], m[2][3]);
                Ok(Isometry3::from_parts(t, rotation))
            }
            Extrinsics::Pose {
                translation,
                quaternion_xyzw: q,
            } => {
                if translation.iter().chain(q).any(|v| !v.is_finite()) {
                    return Err(
                        "extrinsics: non-finite value in translation or quaternion_xyzw".into(),
                    );
                }
                let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
                if (n - 1.0).abs() > ROTATION_TOLERANCE {
                    return Err(format!(
                        "extrinsics.quaternion_xyzw {q:?} has norm {n:.6}; a unit quaternion \
                         [x, y, z, w] is required (within {ROTATION_TOLERANCE})"
                    ));
                }
                // nalgebra's constructor takes the scalar FIRST.
                let rotation =
                    UnitQuaternion::from_quaternion(Quaternion::new(q[3], q[0], q[1], q[2]));
                let t = Translation3::new(translation[0], translation[1], translation[2]);
                Ok(Isometry3::from_parts(t, rotation))
            }
        }
    }
}

/// An axis-aligned box in the base frame (metres) that targets must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    pub min: [f64; 3],
    pub max: [f64; 3],
}

impl Workspace {
    /// Whether `p` lies inside the box or on its border.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        (0..3).all(|i| p[i] >= self.min[i] && p[i] <= self.max[i])
    }
}

/// The robot's camera: what turns a pixel and a depth value into a point in the base frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraModel {
    /// Focal lengths in pixels.
    pub fx: f64,
    pub fy: f64,
    /// Principal point in pixels (see [`PixelCenters`]).
    pub cx: f64,
    pub cy: f64,
    /// Image size the intrinsics refer to; RGB and depth images must have this size.
    pub width: u32,
    pub height: u32,
    /// Metres per depth unit (0.001 for millimetre PNGs, the default).
    #[serde(default = "default_depth_scale")]
    pub depth_scale: f64,
    /// What `cx`, `cy` are measured from; `half` (reticle) unless the calibration is OpenCV's.
    #[serde(default)]
    pub pixel_centers: PixelCenters,
    /// Lens distortion of the RGB image; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distortion: Option<Distortion>,
    /// Camera-to-base transform (required: a robot target in the camera frame by mistake is
    /// worse than an error).
    pub extrinsics: Extrinsics,
    /// Name of the base frame, copied into every target.
    #[serde(default = "default_frame_id")]
    pub frame_id: String,
    /// Targets outside this box are refused (unless the caller allows them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Workspace>,
    /// Targets farther than this from the camera, in metres, are always refused, with or
    /// without a workspace (default [`DEFAULT_MAX_RANGE_M`]; at most [`MAX_RANGE_M`]).
    #[serde(default = "default_max_range")]
    pub max_range_m: f64,
}

/// The default `max_range_m`: beyond what a tabletop or mobile-manipulator camera measures.
pub const DEFAULT_MAX_RANGE_M: f64 = 10.0;

/// The largest `max_range_m` accepted: a 16-bit depth PNG at 1 mm per unit reads 65.5 m.
pub const MAX_RANGE_M: f64 = 100.0;

/// Focal lengths in pixels, as multiples of the image side: `0.01·side` is a 178° field of
/// view and `100·side` a 0.6° one. Outside that, the intrinsics are not a camera's.
const FOCAL_PER_SIDE: (f64, f64) = (0.01, 100.0);

/// Depth scales accepted, in metres per unit: micrometres to metres.
const DEPTH_SCALE_M: (f64, f64) = (1e-6, 1.0);

fn default_max_range() -> f64 {
    DEFAULT_MAX_RANGE_M
}

/// A number for an error message: plain when of a usual size, in exponent form otherwise
/// (`1e-300`, not three hundred zeros).
fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}

fn default_depth_scale() -> f64 {
    0.001
}

fn default_frame_id() -> String {
    "base".into()
}

fn camera_err(origin: &str, message: impl Into<String>) -> Error {
    Error::Camera {
        origin: origin.to_string(),
        message: message.into(),
    }
}

impl CameraModel {
    /// Reads a camera file: TOML (`.toml`) or JSON (`.json`), then validates it. Errors name
    /// the file and the field.
    pub fn from_path(path: &Path) -> Result<Self> {
        let origin = format!("camera {}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| camera_err(&origin, e.to_string()))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let camera: CameraModel = match ext.as_deref() {
            Some("toml") => {
                toml::from_str(&text).map_err(|e| camera_err(&origin, e.to_string().trim_end()))?
            }
            Some("json") => {
                serde_json::from_str(&text).map_err(|e| camera_err(&origin, e.to_string()))?
            }
            _ => {
                return Err(camera_err(
                    &origin,
                    "unknown camera file type: use a .toml or .json file",
                ))
            }
        };
        camera.validate().map_err(|e| with_origin(e, &origin))?;
        Ok(camera)
    }

    /// Reads a camera from JSON (the HTTP service's `camera` field), then validates it.
    pub fn from_json(value: serde_json::Value) -> Result<Self> {
        let camera: CameraModel =
            serde_json::from_value(value).map_err(|e| camera_err("camera", e.to_string()))?;
        camera.validate()?;
        Ok(camera)
    }

    /// Checks every value: finite numbers, positive focal lengths and depth scale, a
    /// non-empty image size, a proper rotation, workspace `min < max`, a frame name.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(camera_err("camera", message));
        for (name, v) in [
            ("fx", self.fx),
            ("fy", self.fy),
            ("cx", self.cx),
            ("cy", self.cy),
            ("depth_scale", self.depth_scale),
        ] {
            if !v.is_finite() {
                return bad(format!("{name} must be a finite number, got {v}"));
            }
        }
        for (name, v) in [
            ("fx", self.fx),
            ("fy", self.fy),
            ("depth_scale", self.depth_scale),
        ] {
            if v <= 0.0 {
                return bad(format!("{name} must be positive, got {v}"));
            }
        }
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if v == 0 || v > MAX_SIDE {
                return bad(format!("{name} must be in 1..={MAX_SIDE}, got {v}"));
            }
        }
        // Physically meaningful ranges: a focal length of 1e-300 pixels deprojects a pixel
        // to 1e301 metres.
        let (lo, hi) = FOCAL_PER_SIDE;
        for (name, v, side_name, side) in [
            ("fx", self.fx, "width", self.width),
            ("fy", self.fy, "height", self.height),
        ] {
            let side = f64::from(side);
            if v < lo * side || v > hi * side {
                return bad(format!(
                    "{name} = {} pixels is not a camera's focal length for a {side_name} of \
                     {side} pixels (expected {}..={}, a field of view between 0.6° and 178°)",
                    num(v),
                    lo * side,
                    hi * side
                ));
            }
        }
        for (name, v, side) in [("cx", self.cx, self.width), ("cy", self.cy, self.height)] {
            let side = f64::from(side);
            if !(-side..=2.0 * side).contains(&v) {
                return bad(format!(
                    "{name} = {} lies more than an image size outside the image (expected {}..={})",
                    num(v),
                    -side,
                    2.0 * side
                ));
            }
        }
        let (lo, hi) = DEPTH_SCALE_M;
        if !(lo..=hi).contains(&self.depth_scale) {
            return bad(format!(
                "depth_scale = {} metres per unit is outside {lo}..={hi}",
                num(self.depth_scale)
            ));
        }
        if !(self.max_range_m.is_finite()
            && self.max_range_m > 0.0
            && self.max_range_m <= MAX_RANGE_M)
        {
            return bad(format!(
                "max_range_m must be in (0, {MAX_RANGE_M}], got {}",
                num(self.max_range_m)
            ));
        }
        if let Some(d) = &self.distortion {
            for (name, v) in [
                ("k1", d.k1),
                ("k2", d.k2),
                ("p1", d.p1),
                ("p2", d.p2),
                ("k3", d.k3),
            ] {
                if !v.is_finite() {
                    return bad(format!(
                        "distortion.{name} must be a finite number, got {v}"
                    ));
                }
            }
        }
        self.extrinsics
            .isometry()
            .map_err(|m| camera_err("camera", m))?;
        if self.frame_id.trim().is_empty() {
            return bad("frame_id must not be empty".into());
        }
        if let Some(w) = &self.workspace {
            for (i, axis) in ["x", "y", "z"].iter().enumerate() {
                let (lo, hi) = (w.min[i], w.max[i]);
                if !(lo.is_finite() && hi.is_finite()) {
                    return bad(format!(
                        "workspace {axis} limits must be finite, got {lo}..{hi}"
                    ));
                }
                if lo >= hi {
                    return bad(format!(
                        "workspace.min[{i}] ({axis} = {lo}) must be below workspace.max[{i}] ({hi})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The camera-to-base isometry (`p_base = iso · p_camera`).
    pub fn camera_to_base(&self) -> Result<Isometry3<f64>> {
        self.extrinsics
            .isometry()
            .map_err(|m| camera_err("camera", m))
    }

    /// The principal point in reticle's pixel convention (centres at `+0.5`).
    pub fn principal_point(&self) -> [f64; 2] {
        match self.pixel_centers {
            PixelCenters::Half => [self.cx, self.cy],
            PixelCenters::Integer => [self.cx + 0.5, self.cy + 0.5],
        }
    }

    /// The distortion coefficients, if any is non-zero.
    pub fn lens(&self) -> Option<&Distortion> {
        self.distortion.as_ref().filter(|d| !d.is_identity())
    }

    /// Pixel (reticle convention) → normalised image coordinates `((u − cx)/fx, (v − cy)/fy)`.
    pub fn normalize(&self, pixel: [f64; 2]) -> [f64; 2] {
        let [cx, cy] = self.principal_point();
        [(pixel[0] - cx) / self.fx, (pixel[1] - cy) / self.fy]
    }

    /// Normalised image coordinates → pixel (reticle convention).
    pub fn denormalize(&self, xy: [f64; 2]) -> [f64; 2] {
        let [cx, cy] = self.principal_point();
        [xy[0] * self.fx + cx, xy[1] * self.fy + cy]
    }

    /// Pinhole deprojection of an UNDISTORTED pixel at camera-frame depth `z` metres
    /// (x right, y down, z forward).
    pub fn deproject(&self, undistorted_pixel: [f64; 2], z: f64) -> Point3<f64> {
        let [x, y] = self.normalize(undistorted_pixel);
        Point3::new(x * z, y * z, z)
    }

    /// Projects a camera-frame point to the RAW (distorted) pixel it is seen at; `None`
    /// behind the camera.
    pub fn project(&self, p: &Point3<f64>) -> Option<[f64; 2]> {
        if p.z <= 0.0 {
            return None;
        }
        let xy = [p.x / p.z, p.y / p.z];
        let xy = match self.lens() {
            Some(d) => d.distort(xy),
            None => xy,
        };
        Some(self.denormalize(xy))
    }

    /// A camera with these intrinsics, identity extrinsics and no distortion or limits.
    pub fn from_intrinsics(k: &reticle_models::camera::Intrinsics) -> Self {
        Self {
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            width: k.width,
            height: k.height,
            depth_scale: k.depth_scale,
            pixel_centers: PixelCenters::Half,
            distortion: None,
            extrinsics: Extrinsics::identity(),
            frame_id: "camera".into(),
            workspace: None,
            max_range_m: DEFAULT_MAX_RANGE_M,
        }
    }
}

/// Gives a [`Error::Camera`] from `validate` the file it came from.
fn with_origin(e: Error, origin: &str) -> Error {
    match e {
        Error::Camera { message, .. } => camera_err(origin, message),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn camera() -> CameraModel {
        CameraModel {
            fx: 500.0,
            fy: 400.0,
            cx: 320.0,
            cy: 240.0,
            width: 640,
            height: 480,
            depth_scale: 0.001,
            pixel_centers: PixelCenters::Half,
            distortion: None,
            extrinsics: Extrinsics::identity(),
            frame_id: "base".into(),
            workspace: None,
            max_range_m: DEFAULT_MAX_RANGE_M,
        }
    }

    /// Rotation of 90° about z: camera x → base y, camera y → base −x; then translate.
    const MATRIX: [[f64; 4]; 4] = [
        [0.0, -1.0, 0.0, 0.5],
        [1.0, 0.0, 0.0, -0.2],
        [0.0, 0.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 1.0],
    ];

    fn pose_90z() -> Extrinsics {
        let h = std::f64::consts::FRAC_1_SQRT_2;
        Extrinsics::Pose {
            translation: [0.5, -0.2, 1.0],
            quaternion_xyzw: [0.0, 0.0, h, h],
        }
    }

    fn check_err(camera: &CameraModel, needle: &str) {
        let e = camera.validate().unwrap_err();
        assert!(matches!(e, Error::Camera { .. }), "{e:?}");
        assert!(
            e.to_string().contains(needle),
            "{e} does not mention {needle}"
        );
    }

    #[test]
    fn matrix_and_quaternion_forms_give_the_same_hand_computed_isometry() {
        let a = Extrinsics::Matrix(MATRIX).isometry().unwrap();
        let b = pose_90z().isometry().unwrap();
        // Hand-computed: R·(1, 2, 3) = (−2, 1, 3); plus t = (0.5, −0.2, 1) → (−1.5, 0.8, 4).
        for iso in [a, b] {
            let p = iso * Point3::new(1.0, 2.0, 3.0);
            assert!((p - Point3::new(-1.5, 0.8, 4.0)).norm() < 1e-12, "{p}");
        }
        assert!((a.to_homogeneous() - b.to_homogeneous()).amax() < 1e-12);
    }

    #[test]
    fn a_tilted_camera_looking_down_at_a_table() {
        // Camera 0.5 m above the base origin looking straight down: camera z = base −z,
        // camera x = base −y, camera y = base −x (rows of R are base axes in camera coords).
        let m = [
            [0.0, -1.0, 0.0, 0.0],
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, -1.0, 0.5],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let iso = Extrinsics::Matrix(m).isometry().unwrap();
        // A point 0.5 m in front of the camera, 0.1 m right of the optical axis → on the
        // table (z = 0), at base y = −0.1.
        let p = iso * Point3::new(0.1, 0.0, 0.5);
        assert!((p - Point3::new(0.0, -0.1, 0.0)).norm() < 1e-12, "{p}");
    }

    #[test]
    fn deprojection_matches_hand_computed_values() {
        let c = camera();
        // u = 420 → x = (420 − 320)/500 · 2 = 0.4; v = 140 → y = (140 − 240)/400 · 2 = −0.5.
        let p = c.deproject([420.0, 140.0], 2.0);
        assert!((p - Point3::new(0.4, -0.5, 2.0)).norm() < 1e-12, "{p}");
        let q = c.project(&p).unwrap();
        assert!((q[0] - 420.0).abs() < 1e-9 && (q[1] - 140.0).abs() < 1e-9);
        // OpenCV principal point: cx measured from the first pixel's centre.
        let o = CameraModel {
            pixel_centers: PixelCenters::Integer,
            cx: 319.5,
            cy: 239.5,
            ..c
        };
        let p2 = o.deproject([420.0, 140.0], 2.0);
        assert!((p2 - p).norm() < 1e-12, "{p2}");
    }

    #[test]
    fn toml_and_json_files_parse_and_errors_name_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("cam.toml");
        std::fs::write(
            &toml_path,
            r#"
fx = 500.0
fy = 400.0
cx = 320.0
cy = 240.0
width = 640
height = 480
[distortion]
k1 = -0.1
[extrinsics]
translation = [0.5, -0.2, 1.0]
quaternion_xyzw = [0.0, 0.0, 0.7071067811865476, 0.7071067811865476]
[workspace]
min = [-1.0, -1.0, 0.0]
max = [1.0, 1.0, 2.0]
"#,
        )
        .unwrap();
        let c = CameraModel::from_path(&toml_path).unwrap();
        assert_eq!(c.frame_id, "base");
        assert_eq!(c.depth_scale, 0.001);
        assert_eq!(c.distortion.unwrap().k1, -0.1);
        // JSON round trip through serde gives the same camera.
        let json_path = dir.path().join("cam.json");
        std::fs::write(&json_path, serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(CameraModel::from_path(&json_path).unwrap(), c);
        assert_eq!(
            CameraModel::from_json(serde_json::to_value(&c).unwrap()).unwrap(),
            c
        );

        let text = std::fs::read_to_string(&toml_path).unwrap();
        let bad = dir.path().join("bad.toml");
        for (edit, needle) in [
            (
                text.replace("fx = 500.0", "fx = 0.0"),
                "fx must be positive",
            ),
            (
                text.replace("quaternion_xyzw", "quaternion"),
                "unknown field `quaternion`",
            ),
            (
                text.replace("fx = 500.0", "fx = 1e-300"),
                "fx = 1e-300 pixels",
            ),
            (
                text.replace("fx = 500.0", "fx = 1e-300"),
                "is not a camera's focal length for a width of 640 pixels",
            ),
            (
                text.replace("fy = 400.0", "fy = 1e9"),
                "fy = 1e9 pixels is not a camera's focal length",
            ),
            (
                text.replace("cx = 320.0", "cx = 1e7"),
                "cx = 1e7 lies more than an image size outside the image",
            ),
            (
                text.replace("width = 640", "width = 640\ndepth_scale = 1e-12"),
                "depth_scale = 1e-12 metres per unit is outside",
            ),
            (
                text.replace("width = 640", "width = 640\nmax_range_m = 1e6"),
                "max_range_m must be in (0, 100], got 1e6",
            ),
            (
                text.replace("min = [-1.0, -1.0, 0.0]", "min = [-1.0, 3.0, 0.0]"),
                "workspace.min[1]",
            ),
            (
                text.replace("0.7071067811865476, 0.7071067811865476", "0.7, 0.5"),
                "quaternion_xyzw",
            ),
            (text.replace("width = 640\n", ""), "missing field `width`"),
        ] {
            std::fs::write(&bad, edit).unwrap();
            let e = CameraModel::from_path(&bad).unwrap_err().to_string();
            assert!(e.contains("bad.toml"), "{e}");
            assert!(e.contains(needle), "{e} does not mention {needle}");
        }
        let e = CameraModel::from_path(&dir.path().join("cam.yaml")).unwrap_err();
        assert!(e.to_string().contains("cam.yaml"), "{e}");
    }

    #[test]
    fn validation_rejects_bad_values() {
        let c = camera();
        c.validate().unwrap();
        check_err(
            &CameraModel {
                fx: 0.0,
                ..c.clone()
            },
            "fx must be positive",
        );
        check_err(
            &CameraModel {
                fy: -1.0,
                ..c.clone()
            },
            "fy must be positive",
        );
        check_err(
            &CameraModel {
                cx: f64::NAN,
                ..c.clone()
            },
            "cx must be a finite",
        );
        check_err(
            &CameraModel {
                depth_scale: f64::INFINITY,
                ..c.clone()
            },
            "depth_scale",
        );
        check_err(
            &CameraModel {
                width: 0,
                ..c.clone()
            },
            "width",
        );
        check_err(
            &CameraModel {
                distortion: Some(Distortion {
                    k2: f64::NAN,
                    ..Distortion::default()
                }),
                ..c.clone()
            },
            "distortion.k2",
        );
        let mut skewed = MATRIX;
        skewed[0][0] = 0.1;
        check_err(
            &CameraModel {
                extrinsics: Extrinsics::Matrix(skewed),
                ..c.clone()
            },
            "not a rotation",
        );
        // A reflection is orthonormal but has det = −1.
        let mut mirrored = MATRIX;
        mirrored[2][2] = -1.0;
        check_err(
            &CameraModel {
                extrinsics: Extrinsics::Matrix(mirrored),
                ..c.clone()
            },
            "det = -1",
        );
        let mut last = MATRIX;
        last[3][0] = 1.0;
        check_err(
            &CameraModel {
                extrinsics: Extrinsics::Matrix(last),
                ..c.clone()
            },
            "last row",
        );
        check_err(
            &CameraModel {
                extrinsics: Extrinsics::Pose {
                    translation: [0.0, f64::NAN, 0.0],
                    quaternion_xyzw: [0.0, 0.0, 0.0, 1.0],
                },
                ..c.clone()
            },
            "non-finite",
        );
        check_err(
            &CameraModel {
                workspace: Some(Workspace {
                    min: [0.0, 0.0, 1.0],
                    max: [1.0, 1.0, 1.0],
                }),
                ..c.clone()
            },
            "workspace.min[2]",
        );
        check_err(
            &CameraModel {
                frame_id: " ".into(),
                ..c
            },
            "frame_id",
        );
    }

    #[test]
    fn from_json_rejects_missing_extrinsics_and_both_forms() {
        let mut v = serde_json::to_value(camera()).unwrap();
        v.as_object_mut().unwrap().remove("extrinsics");
        let e = CameraModel::from_json(v.clone()).unwrap_err().to_string();
        assert!(e.contains("missing field `extrinsics`"), "{e}");
        v["extrinsics"] = serde_json::json!({
            "matrix": MATRIX,
            "translation": [0.0, 0.0, 0.0],
            "quaternion_xyzw": [0.0, 0.0, 0.0, 1.0],
        });
        let e = CameraModel::from_json(v).unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
    }
}
