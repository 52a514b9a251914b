//! Pinhole camera intrinsics as stored in dataset records (`camera`).
//!
//! Distortion and camera-to-base extrinsics belong to the robot agent's camera file; a
//! dataset record carries what is needed to turn a depth pixel into a 3-D point in the
//! camera frame (x right, y down, z forward, metres).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Pinhole intrinsics plus the depth PNG's scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intrinsics {
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// Image size the intrinsics refer to.
    pub width: u32,
    pub height: u32,
    /// Metres per depth unit (0.001 for millimetre PNGs).
    #[serde(default = "default_depth_scale")]
    pub depth_scale: f64,
}

fn default_depth_scale() -> f64 {
    0.001
}

impl Intrinsics {
    /// Checks that focal lengths are positive and every value is finite.
    pub fn validate(&self) -> Result<()> {
        let vals = [self.fx, self.fy, self.cx, self.cy, self.depth_scale];
        if vals.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid("camera", "non-finite intrinsics"));
        }
        if self.fx <= 0.0 || self.fy <= 0.0 || self.depth_scale <= 0.0 {
            return Err(Error::invalid(
                "camera",
                format!(
                    "fx, fy and depth_scale must be positive (fx={}, fy={}, depth_scale={})",
                    self.fx, self.fy, self.depth_scale
                ),
            ));
        }
        if self.width == 0 || self.height == 0 {
            return Err(Error::invalid("camera", "zero image size"));
        }
        Ok(())
    }

    /// Projects a camera-frame point (metres, z forward) to a pixel; `None` behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        (p[2] > 0.0).then(|| {
            [
                self.fx * p[0] / p[2] + self.cx,
                self.fy * p[1] / p[2] + self.cy,
            ]
        })
    }

    /// Deprojects pixel `(u, v)` at depth `z` metres to a camera-frame point.
    pub fn deproject(&self, u: f64, v: f64, z: f64) -> [f64; 3] {
        [(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_deproject_round_trip() {
        let k = Intrinsics {
            fx: 500.0,
            fy: 500.0,
            cx: 320.0,
            cy: 240.0,
            width: 640,
            height: 480,
            depth_scale: 0.001,
        };
        let p = [0.1, -0.05, 0.8];
        let [u, v] = k.project(p).unwrap();
        // Hand-computed: u = 500 * 0.1 / 0.8 + 320 = 382.5, v = 500 * -0.05 / 0.8 + 240 = 208.75.
        assert!((u - 382.5).abs() < 1e-12 && (v - 208.75).abs() < 1e-12);
        let q = k.deproject(u, v, 0.8);
        assert!(q.iter().zip(p).all(|(a, b)| (a - b).abs() < 1e-12));
        assert!(k.project([0.0, 0.0, -1.0]).is_none());
        assert!(k.validate().is_ok());
        assert!(Intrinsics { fx: 0.0, ..k }.validate().is_err());
    }
}
