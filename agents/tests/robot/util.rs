//! Helpers: `spatial` scenes on disk, hand-written camera poses and camera files, `ui`
//! screens on a tilted plane for the fixture package, running `reticle`.

use std::path::{Path, PathBuf};

use image::{ImageBuffer, Luma};
use reticle_models::camera::Intrinsics;
use reticle_models::dataset::{read_dataset, Record};
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};
use tempfile::TempDir;

pub use crate::support::{arg, fixture, reticle, stderr, stdout};

/// `n` spatial scenes (default 640x480 size) written by the suite in a temporary folder.
pub fn scenes(n: usize, seed: u64) -> crate::support::SuiteData {
    crate::support::suite(SuiteKind::Spatial, n, seed)
}

/// A camera-to-base transform written by hand: `p_base = R · (p_camera − o)`, where the rows
/// of `R` are the base axes in camera coordinates and `o` is the base origin in camera
/// coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Pose {
    pub r: [[f64; 3]; 3],
    pub o: [f64; 3],
}

impl Pose {
    /// A camera `height` metres above a table, pitched `pitch_deg` below the horizon, image x
    /// horizontal (the `spatial` suite's rig). Base origin: the table point below the
    /// camera; x forward (away from the camera, horizontal), y left, z up.
    pub fn looking_down(height: f64, pitch_deg: f64) -> Self {
        let (s, c) = pitch_deg.to_radians().sin_cos();
        // Camera coordinates of: forward = (0, −s, c), left = (−1, 0, 0), up = (0, −c, −s).
        Self {
            r: [[0.0, -s, c], [-1.0, 0.0, 0.0], [0.0, -c, -s]],
            o: [0.0, height * c, height * s],
        }
    }

    /// The table frame of a `spatial` record, from its `meta.camera_pose`.
    pub fn table(record: &Record) -> Self {
        let pose = &record.meta.as_ref().unwrap()["camera_pose"];
        Self::looking_down(
            pose["height_m"].as_f64().unwrap(),
            pose["pitch_deg"].as_f64().unwrap(),
        )
    }

    /// The camera-frame point `p` in the base frame.
    pub fn to_base(self, p: [f64; 3]) -> [f64; 3] {
        let q = [p[0] - self.o[0], p[1] - self.o[1], p[2] - self.o[2]];
        self.r
            .map(|row| row[0] * q[0] + row[1] * q[1] + row[2] * q[2])
    }

    /// `t = −R · o`, the camera origin in the base frame.
    pub fn translation(&self) -> [f64; 3] {
        self.to_base([0.0; 3])
    }

    /// The 4x4 row-major camera-to-base matrix.
    pub fn matrix(&self) -> [[f64; 4]; 4] {
        let t = self.translation();
        let r = self.r;
        [
            [r[0][0], r[0][1], r[0][2], t[0]],
            [r[1][0], r[1][1], r[1][2], t[1]],
            [r[2][0], r[2][1], r[2][2], t[2]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    /// The rotation as a unit quaternion `[x, y, z, w]` (Shepperd's method, by hand).
    pub fn quaternion_xyzw(&self) -> [f64; 4] {
        let m = self.r;
        let trace = m[0][0] + m[1][1] + m[2][2];
        if trace > 0.0 {
            let s = (trace + 1.0).sqrt() * 2.0;
            [
                (m[2][1] - m[1][2]) / s,
                (m[0][2] - m[2][0]) / s,
                (m[1][0] - m[0][1]) / s,
                0.25 * s,
            ]
        } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
            let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
            [
                0.25 * s,
                (m[0][1] + m[1][0]) / s,
                (m[0][2] + m[2][0]) / s,
                (m[2][1] - m[1][2]) / s,
            ]
        } else if m[1][1] > m[2][2] {
            let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
            [
                (m[0][1] + m[1][0]) / s,
                0.25 * s,
                (m[1][2] + m[2][1]) / s,
                (m[0][2] - m[2][0]) / s,
            ]
        } else {
            let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
            [
                (m[0][2] + m[2][0]) / s,
                (m[1][2] + m[2][1]) / s,
                0.25 * s,
                (m[1][0] - m[0][1]) / s,
            ]
        }
    }
}

/// The extrinsics table of a camera file.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    Matrix,
    Quaternion,
}

/// Base-frame workspace limits `(min, max)`.
pub type Limits = ([f64; 3], [f64; 3]);

/// Writes a TOML camera file with intrinsics `k`, extrinsics `pose` in `form`, frame id
/// `table` and optional workspace limits to `path`; returns the path.
pub fn write_camera(
    k: &Intrinsics,
    pose: &Pose,
    form: Form,
    workspace: Option<Limits>,
    path: &Path,
) -> PathBuf {
    let mut text = format!(
        "frame_id = \"table\"\nfx = {}\nfy = {}\ncx = {}\ncy = {}\n\
         width = {}\nheight = {}\ndepth_scale = {}\n",
        k.fx, k.fy, k.cx, k.cy, k.width, k.height, k.depth_scale,
    );
    text.push_str("\n[extrinsics]\n");
    match form {
        Form::Matrix => {
            let rows: Vec<String> = pose.matrix().iter().map(|r| format!("{r:?}")).collect();
            text.push_str(&format!("matrix = [{}]\n", rows.join(", ")));
        }
        Form::Quaternion => {
            text.push_str(&format!(
                "translation = {:?}\nquaternion_xyzw = {:?}\n",
                pose.translation(),
                pose.quaternion_xyzw()
            ));
        }
    }
    if let Some((min, max)) = workspace {
        text.push_str(&format!("\n[workspace]\nmin = {min:?}\nmax = {max:?}\n"));
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// A plane `n · p = d` in the camera frame (unit `n`, metres).
#[derive(Debug, Clone, Copy)]
pub struct Plane {
    pub n: [f64; 3],
    pub d: f64,
}

impl Plane {
    /// Where the ray through pixel `(u, v)` (continuous, reticle convention) meets the plane.
    pub fn hit(&self, k: &Intrinsics, u: f64, v: f64) -> [f64; 3] {
        let ray = [(u - k.cx) / k.fx, (v - k.cy) / k.fy, 1.0];
        let t = self.d / (self.n[0] * ray[0] + self.n[1] * ray[1] + self.n[2] * ray[2]);
        ray.map(|c| c * t)
    }
}

/// A `ui` screen the fixture package memorised, seen as the RGB frame of a camera that
/// looks at a tilted plane: the depth PNG is the plane, ray-cast through every pixel centre
/// and stored in millimetres. So the model's answer is a real point (it lands in the
/// record's target box) and the 3-D target it must give is known exactly.
pub struct PlaneScene {
    pub dir: TempDir,
    pub records: Vec<Record>,
    /// Per record: its intrinsics and depth PNG.
    pub cameras: Vec<Intrinsics>,
    pub depths: Vec<PathBuf>,
    pub plane: Plane,
    pub pose: Pose,
}

impl PlaneScene {
    /// The first `n` of the fixture's 12 training records (suite `ui`, seed 21, as
    /// `scripts/make_fixture_package.sh`).
    pub fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        suites::generate(
            &SuiteConfig::new(SuiteKind::Ui, 12, 21),
            dir.path(),
            &|_| {},
        )
        .unwrap();
        let mut records = read_dataset(dir.path()).unwrap();
        records.truncate(n);
        // Tilted 25° about the camera's x axis, 1 m away along the optical axis.
        let (s, c) = 25f64.to_radians().sin_cos();
        let plane = Plane {
            n: [0.0, -s, c],
            d: c,
        };
        let mut cameras = Vec::new();
        let mut depths = Vec::new();
        for r in &records {
            let (w, h) = image::image_dimensions(&r.image).unwrap();
            let f = 0.8 * f64::from(w);
            let k = Intrinsics {
                fx: f,
                fy: f,
                cx: f64::from(w) / 2.0,
                cy: f64::from(h) / 2.0,
                width: w,
                height: h,
                depth_scale: 0.001,
            };
            let depth: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(w, h, |u, v| {
                let p = plane.hit(&k, f64::from(u) + 0.5, f64::from(v) + 0.5);
                Luma([(p[2] * 1000.0).round() as u16])
            });
            let path = dir.path().join(format!("{}-depth.png", r.id));
            depth.save(&path).unwrap();
            cameras.push(k);
            depths.push(path);
        }
        Self {
            dir,
            records,
            cameras,
            depths,
            plane,
            pose: Pose::looking_down(0.9, 40.0),
        }
    }

    /// Base-frame limits around everything record `i`'s camera sees of the plane, plus a
    /// 5 cm margin.
    pub fn limits(&self, i: usize) -> Limits {
        let k = &self.cameras[i];
        let (w, h) = (f64::from(k.width), f64::from(k.height));
        let mut min = [f64::INFINITY; 3];
        let mut max = [f64::NEG_INFINITY; 3];
        for (u, v) in [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)] {
            let p = self.pose.to_base(self.plane.hit(k, u, v));
            for a in 0..3 {
                min[a] = min[a].min(p[a] - 0.05);
                max[a] = max[a].max(p[a] + 0.05);
            }
        }
        (min, max)
    }

    /// A camera file for record `i`.
    pub fn camera(&self, i: usize, form: Form, workspace: Option<Limits>, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        write_camera(&self.cameras[i], &self.pose, form, workspace, &path)
    }
}

/// Euclidean distance.
pub fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}
