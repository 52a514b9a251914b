//! From a point in the captured screenshot to the coordinates the input backend expects.
//!
//! Three coordinate spaces meet here:
//!
//! - **image**: pixels of the captured screenshot (what the model's answer is mapped to by
//!   `reticle_runtime::Grounder`), `image_size` wide and high;
//! - **logical**: the desktop's global coordinates as xcap reports monitors
//!   (`x`, `y`, `width`, `height` divided by the scale factor on X11, points on macOS);
//! - **input**: what enigo's absolute `move_mouse` takes. On X11 (and Windows) that is
//!   device pixels, i.e. logical × scale factor; on macOS it is logical points.
//!
//! The screenshot may not have the monitor's logical size (a 2× monitor gives an image
//! twice as wide as its logical width), so image → logical scales by `logical size / image
//! size` per axis and adds the monitor's logical origin; logical → input multiplies by the
//! scale factor where the backend wants device pixels. Everything here is pure.

use reticle_models::geometry::Point;
use serde::Serialize;

/// Which coordinates the input backend takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSpace {
    /// Device pixels: logical × scale factor (X11, Windows).
    Physical,
    /// The logical coordinates themselves (macOS points).
    Logical,
}

impl InputSpace {
    /// The space enigo uses on this platform.
    pub fn native() -> Self {
        if cfg!(target_os = "macos") {
            InputSpace::Logical
        } else {
            InputSpace::Physical
        }
    }
}

/// A rectangle in some global coordinate space, `[x, x + width) × [y, y + height)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    pub fn new(x: f64, y: f64, width: f64, height: f64) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether `p` lies inside, edges included on the top/left and excluded on the
    /// bottom/right (the usual pixel convention).
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.y >= self.y && p.x < self.x + self.width && p.y < self.y + self.height
    }

    /// The four corner pixels (top-left, top-right, bottom-left, bottom-right).
    pub fn corners(&self) -> [Point; 4] {
        let (x2, y2) = (self.x + self.width - 1.0, self.y + self.height - 1.0);
        [
            Point::new(self.x, self.y),
            Point::new(x2, self.y),
            Point::new(self.x, y2),
            Point::new(x2, y2),
        ]
    }

    fn scaled(&self, s: f64) -> Rect {
        Rect::new(self.x * s, self.y * s, self.width * s, self.height * s)
    }
}

/// How one captured monitor maps to global coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScreenMap {
    /// The monitor in logical global coordinates (as xcap reports it).
    pub monitor: Rect,
    /// The monitor's scale factor (device pixels per logical unit).
    pub scale_factor: f64,
    /// The captured screenshot's size in pixels.
    pub image_size: (u32, u32),
    /// What the input backend takes.
    pub input_space: InputSpace,
}

/// Where an image point lands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mapped {
    /// In the captured image's pixels (the grounded answer).
    pub image: Point,
    /// In logical global coordinates.
    pub logical: Point,
    /// What is passed to the input backend (rounded to whole units).
    pub input: (i32, i32),
}

impl ScreenMap {
    /// The monitor in input coordinates.
    pub fn monitor_input(&self) -> Rect {
        match self.input_space {
            InputSpace::Logical => self.monitor,
            InputSpace::Physical => self.monitor.scaled(self.scale_factor),
        }
    }

    /// Image pixels → logical global coordinates.
    pub fn image_to_logical(&self, p: Point) -> Point {
        let (w, h) = self.image_size;
        let sx = self.monitor.width / f64::from(w.max(1));
        let sy = self.monitor.height / f64::from(h.max(1));
        Point::new(self.monitor.x + p.x * sx, self.monitor.y + p.y * sy)
    }

    /// Logical global coordinates → input coordinates (unrounded).
    pub fn logical_to_input(&self, p: Point) -> Point {
        match self.input_space {
            InputSpace::Logical => p,
            InputSpace::Physical => Point::new(p.x * self.scale_factor, p.y * self.scale_factor),
        }
    }

    /// Input coordinates → logical global coordinates.
    pub fn input_to_logical(&self, p: Point) -> Point {
        match self.input_space {
            InputSpace::Logical => p,
            InputSpace::Physical => Point::new(p.x / self.scale_factor, p.y / self.scale_factor),
        }
    }

    /// Maps an image point all the way. The input point is rounded down to the pixel that
    /// contains it (`floor`) and kept on the monitor, so a point on the image's right or
    /// bottom edge clicks the last pixel rather than the next monitor.
    pub fn map(&self, image: Point) -> Mapped {
        let logical = self.image_to_logical(image);
        let input = self.logical_to_input(logical);
        let m = self.monitor_input();
        let clampf = |v: f64, lo: f64, len: f64| {
            let hi = (lo + len - 1.0).max(lo);
            v.floor().clamp(lo.ceil(), hi.floor())
        };
        let x = clampf(input.x, m.x, m.width);
        let y = clampf(input.y, m.y, m.height);
        Mapped {
            image,
            logical,
            input: (x as i32, y as i32),
        }
    }

    /// Whether an image point lies on the captured image (edges included: a model may
    /// answer exactly 1000 in the `norm1000` frame, which is the image's far edge).
    pub fn image_contains(&self, p: Point) -> bool {
        let (w, h) = self.image_size;
        p.is_finite() && p.x >= 0.0 && p.y >= 0.0 && p.x <= f64::from(w) && p.y <= f64::from(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(map: ScreenMap, image: (f64, f64), logical: (f64, f64), input: (i32, i32)) {
        let m = map.map(Point::new(image.0, image.1));
        assert!(
            (m.logical.x - logical.0).abs() < 1e-9 && (m.logical.y - logical.1).abs() < 1e-9,
            "logical {:?} != {logical:?}",
            m.logical
        );
        assert_eq!(m.input, input);
    }

    fn map(monitor: Rect, scale: f64, image: (u32, u32), space: InputSpace) -> ScreenMap {
        ScreenMap {
            monitor,
            scale_factor: scale,
            image_size: image,
            input_space: space,
        }
    }

    #[test]
    fn identity_on_a_single_unscaled_monitor() {
        let m = map(
            Rect::new(0.0, 0.0, 1280.0, 800.0),
            1.0,
            (1280, 800),
            InputSpace::Physical,
        );
        check(m, (681.0, 217.0), (681.0, 217.0), (681, 217));
        check(m, (0.0, 0.0), (0.0, 0.0), (0, 0));
    }

    #[test]
    fn second_monitor_offset_is_added() {
        let m = map(
            Rect::new(1280.0, 300.0, 1280.0, 800.0),
            1.0,
            (1280, 800),
            InputSpace::Physical,
        );
        check(m, (681.5, 217.25), (1961.5, 517.25), (1961, 517));
    }

    #[test]
    fn x11_scale_two_logical_geometry_physical_input() {
        // xcap on X11 with Xft.dpi 192: a 1280x800 monitor at device (1280, 300) is reported
        // as logical (640, 150) 640x400; the screenshot keeps device pixels.
        let m = map(
            Rect::new(640.0, 150.0, 640.0, 400.0),
            2.0,
            (1280, 800),
            InputSpace::Physical,
        );
        check(
            m,
            (681.0, 217.0),
            (640.0 + 340.5, 150.0 + 108.5),
            (1961, 517),
        );
        assert_eq!(m.monitor_input(), Rect::new(1280.0, 300.0, 1280.0, 800.0));
    }

    #[test]
    fn macos_retina_image_twice_the_logical_size_logical_input() {
        let m = map(
            Rect::new(-1440.0, 0.0, 1440.0, 900.0),
            2.0,
            (2880, 1800),
            InputSpace::Logical,
        );
        check(m, (100.0, 50.0), (-1390.0, 25.0), (-1390, 25));
    }

    #[test]
    fn fractional_scale() {
        let m = map(
            Rect::new(1024.0, 0.0, 1024.0, 640.0),
            1.25,
            (1280, 800),
            InputSpace::Physical,
        );
        check(m, (640.0, 400.0), (1024.0 + 512.0, 320.0), (1920, 400));
    }

    #[test]
    fn far_edge_is_clamped_to_the_last_pixel_of_the_monitor() {
        let m = map(
            Rect::new(1280.0, 0.0, 1280.0, 800.0),
            1.0,
            (1280, 800),
            InputSpace::Physical,
        );
        assert!(m.image_contains(Point::new(1280.0, 800.0)));
        assert_eq!(m.map(Point::new(1280.0, 800.0)).input, (2559, 799));
        assert!(!m.image_contains(Point::new(1280.1, 10.0)));
        assert!(!m.image_contains(Point::new(-0.5, 10.0)));
        assert!(!m.image_contains(Point::new(f64::NAN, 10.0)));
    }

    #[test]
    fn input_to_logical_inverts_logical_to_input() {
        let m = map(
            Rect::new(640.0, 150.0, 640.0, 400.0),
            2.0,
            (1280, 800),
            InputSpace::Physical,
        );
        let p = Point::new(700.0, 200.0);
        assert_eq!(m.input_to_logical(m.logical_to_input(p)), p);
    }

    #[test]
    fn rect_contains_and_corners() {
        let r = Rect::new(10.0, 20.0, 100.0, 50.0);
        assert!(r.contains(Point::new(10.0, 20.0)));
        assert!(!r.contains(Point::new(110.0, 20.0)));
        assert_eq!(r.corners()[3], Point::new(109.0, 69.0));
    }
}
