//! Points, boxes, masks, overlap measures and coordinate-frame conversions.
//!
//! Three frames appear in reticle:
//! - **original**: pixels of the image the caller passed (a screenshot, a camera frame);
//! - **input**: pixels of the resized image the model sees (`input_width × input_height`);
//! - **norm1000**: integers 0..=1000 over the model input, Qwen2-VL style.
//!
//! A model package declares which frame its answers use ([`CoordFrame`]); [`FrameMap`] maps
//! between all three.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A 2-D point. Serialised as `[x, y]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Euclidean distance to `other`.
    pub fn distance(&self, other: &Point) -> f64 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }

    /// True when both coordinates are finite.
    pub fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

impl From<[f64; 2]> for Point {
    fn from(v: [f64; 2]) -> Self {
        Point::new(v[0], v[1])
    }
}

impl From<Point> for [f64; 2] {
    fn from(p: Point) -> Self {
        [p.x, p.y]
    }
}

/// An axis-aligned box `(x1, y1)`–`(x2, y2)` with `x1 <= x2`, `y1 <= y2`.
/// Serialised as `[x1, y1, x2, y2]`; deserialising reorders swapped corners.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "[f64; 4]", into = "[f64; 4]")]
pub struct BBox {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

impl From<[f64; 4]> for BBox {
    fn from(v: [f64; 4]) -> Self {
        BBox::new(v[0], v[1], v[2], v[3])
    }
}

impl From<BBox> for [f64; 4] {
    fn from(b: BBox) -> Self {
        [b.x1, b.y1, b.x2, b.y2]
    }
}

impl BBox {
    /// A box from two corners in any order.
    pub fn new(x1: f64, y1: f64, x2: f64, y2: f64) -> Self {
        Self {
            x1: x1.min(x2),
            y1: y1.min(y2),
            x2: x1.max(x2),
            y2: y1.max(y2),
        }
    }

    /// A box from its top-left corner and size.
    pub fn from_xywh(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self::new(x, y, x + w, y + h)
    }

    pub fn width(&self) -> f64 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f64 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point::new((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    /// True when `p` lies inside the box or on its border.
    pub fn contains(&self, p: &Point) -> bool {
        p.x >= self.x1 && p.x <= self.x2 && p.y >= self.y1 && p.y <= self.y2
    }

    /// The overlap of two boxes, if they overlap with positive area.
    pub fn intersection(&self, other: &BBox) -> Option<BBox> {
        let x1 = self.x1.max(other.x1);
        let y1 = self.y1.max(other.y1);
        let x2 = self.x2.min(other.x2);
        let y2 = self.y2.min(other.y2);
        (x2 > x1 && y2 > y1).then_some(BBox { x1, y1, x2, y2 })
    }

    /// The smallest box enclosing both.
    pub fn union_hull(&self, other: &BBox) -> BBox {
        BBox {
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
            x2: self.x2.max(other.x2),
            y2: self.y2.max(other.y2),
        }
    }

    /// Intersection over union in `[0, 1]`; 0 when both boxes are empty.
    pub fn iou(&self, other: &BBox) -> f64 {
        let inter = self.intersection(other).map_or(0.0, |b| b.area());
        let union = self.area() + other.area() - inter;
        if union <= 0.0 || !union.is_finite() {
            0.0
        } else {
            (inter / union).clamp(0.0, 1.0)
        }
    }

    /// Generalised IoU in `[-1, 1]`: IoU minus the share of the enclosing hull not covered
    /// by the union (Rezatofighi et al. 2019).
    pub fn giou(&self, other: &BBox) -> f64 {
        let inter = self.intersection(other).map_or(0.0, |b| b.area());
        let union = self.area() + other.area() - inter;
        let hull = self.union_hull(other).area();
        if hull <= 0.0 || !hull.is_finite() {
            return 0.0;
        }
        let iou = if union > 0.0 { inter / union } else { 0.0 };
        (iou - (hull - union) / hull).clamp(-1.0, 1.0)
    }

    /// The box with every coordinate multiplied by `(sx, sy)`.
    pub fn scale(&self, sx: f64, sy: f64) -> BBox {
        BBox::new(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)
    }

    /// The box clipped to `[0, w] × [0, h]`.
    pub fn clamp_to(&self, w: f64, h: f64) -> BBox {
        BBox::new(
            self.x1.clamp(0.0, w),
            self.y1.clamp(0.0, h),
            self.x2.clamp(0.0, w),
            self.y2.clamp(0.0, h),
        )
    }

    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }

    /// Applies `f` to both corners (used for frame conversions).
    pub fn map_corners(&self, f: impl Fn(Point) -> Point) -> BBox {
        let a = f(Point::new(self.x1, self.y1));
        let b = f(Point::new(self.x2, self.y2));
        BBox::new(a.x, a.y, b.x, b.y)
    }
}

/// A binary mask over an image, row-major, one byte per pixel (0 = outside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Mask {
    /// An empty (all-outside) mask.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; width as usize * height as usize],
        }
    }

    /// A mask from raw bytes; any non-zero byte is inside.
    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        if data.len() != width as usize * height as usize {
            return Err(Error::invalid(
                "mask",
                format!(
                    "{} bytes for a {width}x{height} mask (expected {})",
                    data.len(),
                    width as usize * height as usize
                ),
            ));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Marks pixel `(x, y)`; out-of-range pixels are ignored.
    pub fn set(&mut self, x: u32, y: u32, inside: bool) {
        if x < self.width && y < self.height {
            self.data[y as usize * self.width as usize + x as usize] = u8::from(inside);
        }
    }

    /// Whether pixel `(x, y)` is inside; out-of-range pixels are outside.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.data[y as usize * self.width as usize + x as usize] != 0
    }

    /// Whether the pixel containing point `p` is inside the mask.
    pub fn contains(&self, p: &Point) -> bool {
        if !p.is_finite() || p.x < 0.0 || p.y < 0.0 {
            return false;
        }
        self.get(p.x.floor() as u32, p.y.floor() as u32)
    }

    /// Number of pixels inside.
    pub fn area(&self) -> usize {
        self.data.iter().filter(|&&v| v != 0).count()
    }

    /// The tight bounding box of the inside pixels (pixel edges), if any.
    pub fn bbox(&self) -> Option<BBox> {
        let (mut x1, mut y1, mut x2, mut y2) = (u32::MAX, u32::MAX, 0u32, 0u32);
        let mut any = false;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(x, y) {
                    any = true;
                    x1 = x1.min(x);
                    y1 = y1.min(y);
                    x2 = x2.max(x + 1);
                    y2 = y2.max(y + 1);
                }
            }
        }
        any.then(|| BBox::new(x1 as f64, y1 as f64, x2 as f64, y2 as f64))
    }

    /// The mean of the inside pixel centres, if any.
    pub fn centroid(&self) -> Option<Point> {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0usize);
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(x, y) {
                    sx += x as f64 + 0.5;
                    sy += y as f64 + 0.5;
                    n += 1;
                }
            }
        }
        (n > 0).then(|| Point::new(sx / n as f64, sy / n as f64))
    }

    /// Pixel IoU of two masks of the same size (0 if sizes differ or both are empty).
    pub fn iou(&self, other: &Mask) -> f64 {
        if self.width != other.width || self.height != other.height {
            return 0.0;
        }
        let (mut inter, mut union) = (0usize, 0usize);
        for (a, b) in self.data.iter().zip(&other.data) {
            let (a, b) = (*a != 0, *b != 0);
            inter += usize::from(a && b);
            union += usize::from(a || b);
        }
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// Reads a mask PNG (any pixel format; non-zero luma is inside).
    pub fn load(path: &Path) -> Result<Self> {
        let luma = crate::imageio::open(path)?.to_luma8();
        let (w, h) = luma.dimensions();
        Self::from_raw(
            w,
            h,
            luma.into_raw()
                .into_iter()
                .map(|v| u8::from(v != 0))
                .collect(),
        )
    }

    /// Writes the mask as an 8-bit grayscale PNG (inside = 255).
    pub fn save(&self, path: &Path) -> Result<()> {
        let img = image::GrayImage::from_raw(
            self.width,
            self.height,
            self.data
                .iter()
                .map(|&v| if v != 0 { 255 } else { 0 })
                .collect(),
        )
        .ok_or_else(|| Error::invalid("mask", "buffer size does not match dimensions"))?;
        img.save(path).map_err(|e| Error::Image {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// The coordinate frame a model's answers are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CoordFrame {
    /// Integers 0..=1000 over the model input (Qwen2-VL style).
    #[default]
    Norm1000,
    /// Pixels of the resized model input (Qwen2.5-VL style).
    Pixels,
}

/// How an original image is fitted to the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Scale x and y independently to fill the input exactly.
    #[default]
    Stretch,
    /// Scale uniformly to fit, centred, padding the rest.
    Letterbox,
}

/// Maps points between the original image, the model input and the answer frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMap {
    /// Original image size in pixels.
    pub original: (u32, u32),
    /// Model input size in pixels.
    pub input: (u32, u32),
    pub resize: ResizeMode,
    pub frame: CoordFrame,
}

impl FrameMap {
    /// A frame map; fails on zero sizes.
    pub fn new(
        original: (u32, u32),
        input: (u32, u32),
        resize: ResizeMode,
        frame: CoordFrame,
    ) -> Result<Self> {
        if original.0 == 0 || original.1 == 0 || input.0 == 0 || input.1 == 0 {
            return Err(Error::invalid(
                "frame map",
                format!(
                    "zero-sized image: original {}x{}, input {}x{}",
                    original.0, original.1, input.0, input.1
                ),
            ));
        }
        Ok(Self {
            original,
            input,
            resize,
            frame,
        })
    }

    /// Scale factors and offset from original to input pixels: `input = orig * s + off`.
    fn affine(&self) -> (f64, f64, f64, f64) {
        let (ow, oh) = (self.original.0 as f64, self.original.1 as f64);
        let (iw, ih) = (self.input.0 as f64, self.input.1 as f64);
        match self.resize {
            ResizeMode::Stretch => (iw / ow, ih / oh, 0.0, 0.0),
            ResizeMode::Letterbox => {
                let s = (iw / ow).min(ih / oh);
                (s, s, (iw - ow * s) / 2.0, (ih - oh * s) / 2.0)
            }
        }
    }

    pub fn original_to_input(&self, p: Point) -> Point {
        let (sx, sy, ox, oy) = self.affine();
        Point::new(p.x * sx + ox, p.y * sy + oy)
    }

    pub fn input_to_original(&self, p: Point) -> Point {
        let (sx, sy, ox, oy) = self.affine();
        Point::new((p.x - ox) / sx, (p.y - oy) / sy)
    }

    pub fn input_to_norm1000(&self, p: Point) -> Point {
        Point::new(
            p.x * 1000.0 / self.input.0 as f64,
            p.y * 1000.0 / self.input.1 as f64,
        )
    }

    pub fn norm1000_to_input(&self, p: Point) -> Point {
        Point::new(
            p.x * self.input.0 as f64 / 1000.0,
            p.y * self.input.1 as f64 / 1000.0,
        )
    }

    /// A point in the model's answer frame → original pixels.
    pub fn answer_to_original(&self, p: Point) -> Point {
        match self.frame {
            CoordFrame::Norm1000 => self.input_to_original(self.norm1000_to_input(p)),
            CoordFrame::Pixels => self.input_to_original(p),
        }
    }

    /// Original pixels → the model's answer frame (unrounded).
    pub fn original_to_answer(&self, p: Point) -> Point {
        let q = self.original_to_input(p);
        match self.frame {
            CoordFrame::Norm1000 => self.input_to_norm1000(q),
            CoordFrame::Pixels => q,
        }
    }

    pub fn box_answer_to_original(&self, b: &BBox) -> BBox {
        b.map_corners(|p| self.answer_to_original(p))
    }

    pub fn box_original_to_answer(&self, b: &BBox) -> BBox {
        b.map_corners(|p| self.original_to_answer(p))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn iou_hand_computed() {
        let a = BBox::new(0.0, 0.0, 2.0, 2.0);
        let b = BBox::new(1.0, 1.0, 3.0, 3.0);
        // intersection 1, union 4 + 4 - 1 = 7.
        assert!(close(a.iou(&b), 1.0 / 7.0));
        assert!(close(a.iou(&a), 1.0));
        assert!(close(a.iou(&BBox::new(5.0, 5.0, 6.0, 6.0)), 0.0));
    }

    #[test]
    fn giou_hand_computed() {
        let a = BBox::new(0.0, 0.0, 1.0, 1.0);
        let b = BBox::new(2.0, 0.0, 3.0, 1.0);
        // No overlap: iou 0, hull 3, union 2 → giou = -(3 - 2) / 3.
        assert!(close(a.giou(&b), -1.0 / 3.0));
        assert!(close(a.giou(&a), 1.0));
    }

    #[test]
    fn point_in_box_includes_border() {
        let b = BBox::new(10.0, 10.0, 20.0, 20.0);
        assert!(b.contains(&Point::new(10.0, 20.0)));
        assert!(!b.contains(&Point::new(9.99, 15.0)));
        assert!(!b.contains(&Point::new(f64::NAN, 15.0)));
    }

    #[test]
    fn mask_measures() {
        let mut m = Mask::new(4, 4);
        m.set(1, 1, true);
        m.set(2, 1, true);
        assert_eq!(m.area(), 2);
        assert_eq!(m.bbox(), Some(BBox::new(1.0, 1.0, 3.0, 2.0)));
        assert_eq!(m.centroid(), Some(Point::new(2.0, 1.5)));
        assert!(m.contains(&Point::new(2.9, 1.2)));
        assert!(!m.contains(&Point::new(3.1, 1.2)));
        assert!(!m.contains(&Point::new(-0.5, 1.2)));
    }

    #[test]
    fn mask_png_round_trip() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let mut m = Mask::new(5, 3);
        m.set(4, 2, true);
        let path = dir.path().join("m.png");
        m.save(&path)?;
        assert_eq!(Mask::load(&path)?, m);
        Ok(())
    }

    #[test]
    fn frame_map_hand_computed() -> Result<()> {
        let f = FrameMap::new(
            (1280, 800),
            (640, 400),
            ResizeMode::Stretch,
            CoordFrame::Norm1000,
        )?;
        let p = f.answer_to_original(Point::new(500.0, 250.0));
        assert!(close(p.x, 640.0) && close(p.y, 200.0));
        let l = FrameMap::new(
            (200, 100),
            (100, 100),
            ResizeMode::Letterbox,
            CoordFrame::Pixels,
        )?;
        // Scale 0.5, vertical padding (100 - 50) / 2 = 25.
        let q = l.original_to_input(Point::new(200.0, 100.0));
        assert!(close(q.x, 100.0) && close(q.y, 75.0));
        assert!(FrameMap::new((0, 10), (10, 10), ResizeMode::Stretch, CoordFrame::Pixels).is_err());
        Ok(())
    }

    fn arb_box() -> impl Strategy<Value = BBox> {
        (0.0..1000.0f64, 0.0..1000.0f64, 0.0..500.0f64, 0.0..500.0f64)
            .prop_map(|(x, y, w, h)| BBox::from_xywh(x, y, w, h))
    }

    proptest! {
        #[test]
        fn iou_is_symmetric_and_bounded(a in arb_box(), b in arb_box()) {
            let (ab, ba) = (a.iou(&b), b.iou(&a));
            prop_assert!((ab - ba).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&ab));
        }

        #[test]
        fn giou_bounded_and_below_iou(a in arb_box(), b in arb_box()) {
            let g = a.giou(&b);
            prop_assert!((-1.0..=1.0).contains(&g));
            prop_assert!(g <= a.iou(&b) + 1e-12);
        }

        #[test]
        fn frame_round_trip(
            ow in 1u32..4000, oh in 1u32..4000, iw in 1u32..2000, ih in 1u32..2000,
            x in 0.0..1.0f64, y in 0.0..1.0f64, letterbox: bool, norm: bool,
        ) {
            let resize = if letterbox { ResizeMode::Letterbox } else { ResizeMode::Stretch };
            let frame = if norm { CoordFrame::Norm1000 } else { CoordFrame::Pixels };
            let f = FrameMap::new((ow, oh), (iw, ih), resize, frame).unwrap();
            let p = Point::new(x * ow as f64, y * oh as f64);
            let back = f.answer_to_original(f.original_to_answer(p));
            prop_assert!(p.distance(&back) < 1e-6 * (ow.max(oh) as f64));
        }

        #[test]
        fn box_contains_its_center(b in arb_box()) {
            prop_assert!(b.contains(&b.center()));
        }
    }
}
