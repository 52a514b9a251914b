//! Pointing rewards (UI click, spatial referring): does the predicted point land on the
//! target, and, for the shaped variant, how far off is it.

use crate::geometry::{BBox, Mask, Point};

/// Where a pointing answer must land, in original image pixels.
#[derive(Debug, Clone, Copy)]
pub enum PointTarget<'a> {
    Box(BBox),
    /// A point target with a hit radius in pixels.
    Disk {
        centre: Point,
        radius: f64,
    },
    Mask(&'a Mask),
}

impl PointTarget<'_> {
    /// Whether `p` is on the target (a box's border counts; a mask is tested per pixel).
    pub fn contains(&self, p: &Point) -> bool {
        match self {
            PointTarget::Box(b) => b.contains(p),
            PointTarget::Disk { centre, radius } => p.is_finite() && p.distance(centre) <= *radius,
            PointTarget::Mask(m) => m.contains(p),
        }
    }

    /// Euclidean distance from `p` to the nearest point of the target, 0 on it; `None` for a
    /// non-finite point or an empty mask.
    pub fn distance(&self, p: &Point) -> Option<f64> {
        if !p.is_finite() {
            return None;
        }
        match self {
            PointTarget::Box(b) => Some(distance_to_box(p, b)),
            PointTarget::Disk { centre, radius } => Some((p.distance(centre) - radius).max(0.0)),
            PointTarget::Mask(m) => distance_to_mask(p, m),
        }
    }

    /// The target's size, which the shaped reward's σ is relative to: the box diagonal,
    /// the disk diameter, or the diagonal of the mask's bounding box.
    pub fn size(&self) -> f64 {
        match self {
            PointTarget::Box(b) => b.width().hypot(b.height()),
            PointTarget::Disk { radius, .. } => 2.0 * radius,
            PointTarget::Mask(m) => m.bbox().map_or(0.0, |b| b.width().hypot(b.height())),
        }
    }
}

/// 1 when `p` is on the target, else 0.
pub fn hit_reward(p: &Point, target: &PointTarget<'_>) -> f64 {
    if target.contains(p) {
        1.0
    } else {
        0.0
    }
}

/// 1 on the target, else `exp(−d/σ)` with `d` the distance to the target and
/// `σ = sigma_frac × target.size()` (at least one pixel, so a degenerate target still
/// shapes). With `sigma_frac = 0.5`, a click one box-diagonal away from a button earns
/// e⁻² ≈ 0.14. A non-finite point earns 0.
pub fn shaped_reward(p: &Point, target: &PointTarget<'_>, sigma_frac: f64) -> f64 {
    if target.contains(p) {
        return 1.0;
    }
    let Some(d) = target.distance(p) else {
        return 0.0;
    };
    let sigma = (sigma_frac * target.size()).max(1.0);
    let r = (-d / sigma).exp();
    if r.is_finite() {
        r.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// UI click: 1 when the point (a box answer's centre) is inside the target box, else 0.
pub fn point_in_box(p: &Point, target: &BBox) -> f64 {
    hit_reward(p, &PointTarget::Box(*target))
}

/// The distance-shaped click reward; see [`shaped_reward`].
pub fn point_in_box_shaped(p: &Point, target: &BBox, sigma_frac: f64) -> f64 {
    shaped_reward(p, &PointTarget::Box(*target), sigma_frac)
}

/// Spatial referring: 1 when the point lies in the target mask, else 0.
pub fn point_in_mask(p: &Point, mask: &Mask) -> f64 {
    hit_reward(p, &PointTarget::Mask(mask))
}

/// Distance from `p` to the box (0 inside or on the border).
pub fn distance_to_box(p: &Point, b: &BBox) -> f64 {
    let dx = (b.x1 - p.x).max(p.x - b.x2).max(0.0);
    let dy = (b.y1 - p.y).max(p.y - b.y2).max(0.0);
    dx.hypot(dy)
}

/// Distance from `p` to the nearest inside pixel (each pixel a unit square). A full scan:
/// masks are model-input sized and this runs once per completion.
fn distance_to_mask(p: &Point, m: &Mask) -> Option<f64> {
    let mut best: Option<f64> = None;
    for y in 0..m.height() {
        for x in 0..m.width() {
            if m.get(x, y) {
                let px = BBox::new(x as f64, y as f64, x as f64 + 1.0, y as f64 + 1.0);
                let d = distance_to_box(p, &px);
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[track_caller]
    fn check(p: (f64, f64), target: &PointTarget<'_>, expected_hit: f64, expected_shaped: f64) {
        let p = Point::new(p.0, p.1);
        let hit = hit_reward(&p, target);
        let shaped = shaped_reward(&p, target, 0.5);
        assert!(
            close(hit, expected_hit),
            "hit {hit} != {expected_hit} at {p:?}"
        );
        assert!(
            close(shaped, expected_shaped),
            "shaped {shaped} != {expected_shaped} at {p:?}"
        );
    }

    #[test]
    fn box_target() {
        // A 30×40 box: diagonal 50, σ = 25.
        let t = PointTarget::Box(BBox::new(10.0, 10.0, 40.0, 50.0));
        check((20.0, 20.0), &t, 1.0, 1.0);
        check((40.0, 50.0), &t, 1.0, 1.0);
        check((65.0, 30.0), &t, 0.0, (-1.0f64).exp());
        check((70.0, 90.0), &t, 0.0, (-2.0f64).exp()); // d = hypot(30, 40) = 50
        check((f64::NAN, 0.0), &t, 0.0, 0.0);
        assert!(close(
            point_in_box(&Point::new(5.0, 5.0), &BBox::new(0.0, 0.0, 10.0, 10.0)),
            1.0
        ));
        assert!(close(
            point_in_box_shaped(&Point::new(20.0, 5.0), &BBox::new(0.0, 0.0, 0.0, 0.0), 0.5),
            (-20.0f64.hypot(5.0)).exp() // degenerate box: σ floors at 1 px
        ));
    }

    #[test]
    fn disk_target() {
        // Radius 5 → size 10, σ = 5.
        let t = PointTarget::Disk {
            centre: Point::new(100.0, 100.0),
            radius: 5.0,
        };
        check((103.0, 104.0), &t, 1.0, 1.0);
        check((110.0, 100.0), &t, 0.0, (-1.0f64).exp());
    }

    #[test]
    fn mask_target() {
        let mut m = Mask::new(10, 10);
        for x in 2..4 {
            m.set(x, 2, true);
        } // pixels (2,2) and (3,2): bbox 2..4 × 2..3, diagonal √5.
        let t = PointTarget::Mask(&m);
        check((3.5, 2.5), &t, 1.0, 1.0);
        let sigma = 0.5 * 5f64.sqrt();
        check((7.0, 2.5), &t, 0.0, (-3.0 / sigma).exp());
        assert!(close(point_in_mask(&Point::new(2.0, 2.9), &m), 1.0));
        let empty = Mask::new(4, 4);
        check((1.0, 1.0), &PointTarget::Mask(&empty), 0.0, 0.0);
    }
}

/// GUI-G1's click reward for a box answer (Zhou et al. 2025, §4: hit + α IoU + β box term),
/// everything in original pixels of an image of size `image`:
///
/// - hit: 1 when the predicted box's centre lies in the target box, else 0;
/// - IoU of the two boxes, weighted by `iou_weight` (α, 0.25 in the paper's code);
/// - the box term, weighted by `edge_weight` (β, 0.125): the harmonic mean over the four
///   edges of `1 − |predicted − target| / image side`. A box that shrinks or grows around the
///   right centre keeps the hit but loses this term (and IoU), which is what stops GRPO from
///   trading box size against the hit (small boxes) or the IoU (large ones).
///
/// A non-finite or inverted box earns 0; edges further off than the image side count 0.
pub fn gui_g1_reward(
    pred: &BBox,
    target: &BBox,
    image: (u32, u32),
    iou_weight: f64,
    edge_weight: f64,
) -> f64 {
    let corners = [pred.x1, pred.y1, pred.x2, pred.y2];
    if corners.iter().any(|v| !v.is_finite()) || pred.x2 < pred.x1 || pred.y2 < pred.y1 {
        return 0.0;
    }
    let hit = if PointTarget::Box(*target).contains(&pred.center()) {
        1.0
    } else {
        0.0
    };
    let (w, h) = (f64::from(image.0.max(1)), f64::from(image.1.max(1)));
    let closeness = [
        (pred.x1 - target.x1, w),
        (pred.y1 - target.y1, h),
        (pred.x2 - target.x2, w),
        (pred.y2 - target.y2, h),
    ]
    .map(|(d, side)| (1.0 - d.abs() / side).max(0.0));
    let edge = if closeness.contains(&0.0) {
        0.0
    } else {
        4.0 / closeness.iter().map(|c| 1.0 / c).sum::<f64>()
    };
    hit + iou_weight * pred.iou(target) + edge_weight * edge
}

#[cfg(test)]
mod gui_g1_tests {
    use super::*;

    #[test]
    fn gui_g1_pays_the_hit_the_overlap_and_the_right_size() {
        let gt = BBox::new(100.0, 100.0, 200.0, 150.0);
        let image = (1000, 500);
        let r = |b: BBox| gui_g1_reward(&b, &gt, image, 0.25, 0.125);
        // The exact box: 1 + 0.25 + 0.125.
        assert!((r(gt) - 1.375).abs() < 1e-12);
        // Same centre, shrunk to a dot or grown four-fold: the hit stays, IoU and the box
        // term fall, so neither pays as much as the right size.
        let dot = BBox::new(149.0, 124.0, 151.0, 126.0);
        let big = BBox::new(50.0, 75.0, 250.0, 175.0);
        assert!(r(dot) > 1.0 && r(dot) < r(gt), "{}", r(dot));
        assert!(r(big) > 1.0 && r(big) < r(gt), "{}", r(big));
        // Shifted 100 px right: the centre misses; IoU 0; x edges 0.1 of the width off, y
        // edges exact: harmonic mean of (0.9, 1, 0.9, 1).
        let off = BBox::new(200.0, 100.0, 300.0, 150.0);
        let edge = 4.0 / (2.0 / 0.9 + 2.0);
        assert!((r(off) - 0.125 * edge).abs() < 1e-12, "{}", r(off));
        // Degenerate input earns nothing.
        let raw = |x1, y1, x2, y2| BBox { x1, y1, x2, y2 };
        assert_eq!(r(raw(f64::NAN, 0.0, 1.0, 1.0)), 0.0);
        assert_eq!(r(raw(300.0, 100.0, 200.0, 150.0)), 0.0);
        // An edge further off than the image side: the box term is 0, not negative.
        let wide = BBox::new(100.0, 100.0, 1300.0, 150.0);
        assert!(
            (r(wide) - 0.25 * wide.iou(&gt)).abs() < 1e-12,
            "{}",
            r(wide)
        );
    }
}
