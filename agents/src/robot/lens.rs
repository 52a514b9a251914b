//! Brown–Conrady lens distortion (OpenCV's model): the forward map and its iterative
//! inverse, which turns the raw pixel a model points at into the ideal pinhole pixel.
//!
//! In normalised coordinates `(x, y)`, with `r² = x² + y²`:
//! `x_d = x·(1 + k1 r² + k2 r⁴ + k3 r⁶) + 2 p1 x y + p2 (r² + 2x²)`,
//! `y_d = y·(1 + k1 r² + k2 r⁴ + k3 r⁶) + p1 (r² + 2y²) + 2 p2 x y`.
//! There is no closed-form inverse; [`Distortion::undistort`] solves it with Newton's method
//! (analytic Jacobian, step halving when a step does not reduce the residual).

use super::camera::{CameraModel, Distortion};
use super::error::{Error, Result};

/// The undistorted pixel must reproduce the raw pixel to within this many pixels.
pub const UNDISTORT_TOLERANCE_PX: f64 = 1e-6;

const MAX_ITERATIONS: usize = 50;

impl Distortion {
    /// True when every coefficient is zero (the pinhole model).
    pub fn is_identity(&self) -> bool {
        [self.k1, self.k2, self.p1, self.p2, self.k3]
            .iter()
            .all(|&v| v == 0.0)
    }

    /// Ideal normalised coordinates → distorted normalised coordinates.
    pub fn distort(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        [
            x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x),
            y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y,
        ]
    }

    /// The Jacobian of [`Distortion::distort`] at `(x, y)`, row-major.
    fn jacobian(&self, [x, y]: [f64; 2]) -> [[f64; 2]; 2] {
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        // d radial / d r².
        let dr = self.k1 + r2 * (2.0 * self.k2 + 3.0 * self.k3 * r2);
        let xy = 2.0 * x * y * dr;
        [
            [
                radial + 2.0 * x * x * dr + 2.0 * self.p1 * y + 6.0 * self.p2 * x,
                xy + 2.0 * self.p1 * x + 2.0 * self.p2 * y,
            ],
            [
                xy + 2.0 * self.p1 * x + 2.0 * self.p2 * y,
                radial + 2.0 * y * y * dr + 6.0 * self.p1 * y + 2.0 * self.p2 * x,
            ],
        ]
    }

    /// Distorted normalised coordinates → ideal ones, so that `distort(result)` is within
    /// `tolerance` of `distorted` (in normalised units). `None` when Newton's method does not
    /// get there on the lens's usable branch (the model folds over itself that far out).
    pub fn undistort(&self, distorted: [f64; 2], tolerance: f64) -> Option<[f64; 2]> {
        let residual = |p: [f64; 2]| {
            let d = self.distort(p);
            [d[0] - distorted[0], d[1] - distorted[1]]
        };
        let size = |r: [f64; 2]| r[0].abs().max(r[1].abs());
        let mut p = distorted;
        let mut r = residual(p);
        for _ in 0..MAX_ITERATIONS {
            if size(r) <= tolerance {
                break;
            }
            let [[a, b], [c, d]] = self.jacobian(p);
            let det = a * d - b * c;
            if !det.is_finite() || det.abs() < 1e-12 {
                return None;
            }
            let step = [(d * r[0] - b * r[1]) / det, (a * r[1] - c * r[0]) / det];
            // Backtrack: take the largest of 1, 1/2, 1/4, … that reduces the residual.
            let mut scale = 1.0;
            loop {
                let q = [p[0] - scale * step[0], p[1] - scale * step[1]];
                let rq = residual(q);
                if size(rq) < size(r) || scale < 1e-6 {
                    p = q;
                    r = rq;
                    break;
                }
                scale *= 0.5;
            }
            if !(p[0].is_finite() && p[1].is_finite()) {
                return None;
            }
        }
        (size(r) <= tolerance && self.physical(p)).then_some(p)
    }

    /// Whether `p` is on the lens's usable branch: the radial factor is positive and the map
    /// preserves orientation there. Beyond the fold of a strongly negative `k1` the model has
    /// further pre-images (mirrored through the centre) that no real ray comes from.
    fn physical(&self, p: [f64; 2]) -> bool {
        let r2 = p[0] * p[0] + p[1] * p[1];
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        let [[a, b], [c, d]] = self.jacobian(p);
        radial > 0.0 && a * d - b * c > 0.0
    }
}

impl CameraModel {
    /// The raw (distorted) pixel → the ideal pinhole pixel, both in reticle's convention.
    /// The identity when the camera has no distortion.
    pub fn undistort_pixel(&self, pixel: [f64; 2]) -> Result<[f64; 2]> {
        let Some(lens) = self.lens() else {
            return Ok(pixel);
        };
        // Tolerance in normalised units such that the error in pixels stays below
        // UNDISTORT_TOLERANCE_PX along both axes (with a 10x margin).
        let tol = 0.1 * UNDISTORT_TOLERANCE_PX / self.fx.max(self.fy);
        let xy = lens
            .undistort(self.normalize(pixel), tol)
            .ok_or_else(|| Error::Camera {
                origin: "camera".into(),
                message: format!(
                    "the distortion coefficients cannot be inverted at pixel ({:.2}, {:.2}) \
                     (Newton's method did not converge); check distortion.k1..k3, p1, p2",
                    pixel[0], pixel[1]
                ),
            })?;
        Ok(self.denormalize(xy))
    }

    /// The ideal pinhole pixel → the raw (distorted) pixel.
    pub fn distort_pixel(&self, undistorted: [f64; 2]) -> [f64; 2] {
        match self.lens() {
            Some(lens) => self.denormalize(lens.distort(self.normalize(undistorted))),
            None => undistorted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::camera::tests::camera;

    /// A strongly distorting wide-angle lens (coefficients of the order of real ones).
    fn wide() -> Distortion {
        Distortion {
            k1: -0.28,
            k2: 0.07,
            p1: 0.0012,
            p2: -0.0008,
            k3: -0.006,
        }
    }

    #[test]
    fn distort_of_undistort_is_the_identity_across_the_image() {
        let cam = CameraModel {
            distortion: Some(wide()),
            ..camera()
        };
        let mut worst: f64 = 0.0;
        for v in (0..=480).step_by(20) {
            for u in (0..=640).step_by(20) {
                let p = [f64::from(u), f64::from(v)];
                let q = cam.undistort_pixel(p).unwrap();
                let back = cam.distort_pixel(q);
                worst = worst.max((back[0] - p[0]).abs().max((back[1] - p[1]).abs()));
            }
        }
        assert!(
            worst < UNDISTORT_TOLERANCE_PX,
            "worst round trip {worst} px"
        );
        // Barrel distortion (k1 < 0) pulls corners in: undistorting pushes them out.
        let corner = cam.undistort_pixel([0.0, 0.0]).unwrap();
        assert!(corner[0] < -5.0 && corner[1] < -5.0, "{corner:?}");
    }

    #[test]
    fn undistort_of_distort_is_the_identity() {
        let cam = CameraModel {
            distortion: Some(wide()),
            ..camera()
        };
        for p in [[320.0, 240.0], [10.0, 470.0], [600.5, 33.25]] {
            let raw = cam.distort_pixel(p);
            let back = cam.undistort_pixel(raw).unwrap();
            assert!(
                (back[0] - p[0]).abs() < 1e-5 && (back[1] - p[1]).abs() < 1e-5,
                "{p:?} → {raw:?} → {back:?}"
            );
        }
    }

    #[test]
    fn hand_computed_distortion() {
        // x = 0.2, y = −0.1: r² = 0.05, radial = 1 − 0.28·0.05 + 0.07·0.0025 − 0.006·0.000125
        // = 0.98617425; x_d = 0.19723485 + 2·0.0012·(−0.02) − 0.0008·(0.05 + 0.08)
        // = 0.19723485 − 0.000048 − 0.000104 = 0.19708285;
        // y_d = −0.098617425 + 0.0012·(0.05 + 0.02) + 2·(−0.0008)·(−0.02)
        // = −0.098617425 + 0.000084 + 0.000032 = −0.098501425.
        let d = wide().distort([0.2, -0.1]);
        assert!((d[0] - 0.19708285).abs() < 1e-12, "{d:?}");
        assert!((d[1] + 0.098501425).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn no_distortion_is_the_identity() {
        let cam = CameraModel {
            distortion: Some(Distortion::default()),
            ..camera()
        };
        assert!(cam.lens().is_none());
        assert_eq!(cam.undistort_pixel([1.25, 7.5]).unwrap(), [1.25, 7.5]);
        assert_eq!(cam.distort_pixel([1.25, 7.5]), [1.25, 7.5]);
    }

    #[test]
    fn a_folding_model_is_an_error_not_a_wrong_point() {
        // k1 = −2 folds over at r² = 1/6: points beyond have no pre-image near them.
        let cam = CameraModel {
            distortion: Some(Distortion {
                k1: -2.0,
                ..Distortion::default()
            }),
            ..camera()
        };
        let e = cam.undistort_pixel([0.0, 0.0]).unwrap_err();
        assert!(matches!(e, Error::Camera { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot be inverted"), "{e}");
    }
}
