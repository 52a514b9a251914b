//! Drawing primitives on RGB images, written for speed and anti-aliased edges.
//!
//! Large axis-aligned fills write whole row slices; curved and slanted edges use a signed
//! distance at each pixel centre (`coverage = clamp(0.5 - d)`), which gives one pixel of
//! anti-aliasing without supersampling. Everything clips to the image, so callers may draw
//! partly off-screen.

use image::RgbImage;

/// An sRGB colour.
pub type Color = [u8; 3];

/// An integer pixel rectangle (`x`, `y` top-left, `w`×`h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Self {
        Self { x, y, w, h }
    }

    pub fn right(&self) -> i32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }

    pub fn center(&self) -> (f32, f32) {
        (
            self.x as f32 + self.w as f32 / 2.0,
            self.y as f32 + self.h as f32 / 2.0,
        )
    }

    /// The rectangle shrunk by `d` on every side.
    pub fn inset(&self, d: i32) -> Rect {
        Rect::new(
            self.x + d,
            self.y + d,
            (self.w - 2 * d).max(0),
            (self.h - 2 * d).max(0),
        )
    }

    pub fn offset(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(self.x + dx, self.y + dy, self.w, self.h)
    }

    pub fn intersects(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }

    /// Area of the overlap with `o`.
    pub fn overlap(&self, o: &Rect) -> i64 {
        let w = (self.right().min(o.right()) - self.x.max(o.x)).max(0) as i64;
        let h = (self.bottom().min(o.bottom()) - self.y.max(o.y)).max(0) as i64;
        w * h
    }

    pub fn bbox(&self) -> reticle_models::geometry::BBox {
        reticle_models::geometry::BBox::from_xywh(
            self.x as f64,
            self.y as f64,
            self.w as f64,
            self.h as f64,
        )
    }
}

/// Linear mix of two colours, `t = 0` gives `a`.
pub fn mix(a: Color, b: Color, t: f32) -> Color {
    let t = t.clamp(0.0, 1.0);
    let m = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

/// Blends `c` over pixel `(x, y)` with opacity `alpha`; out-of-range pixels are ignored.
#[inline]
pub fn blend(img: &mut RgbImage, x: i32, y: i32, c: Color, alpha: f32) {
    if alpha <= 0.0 || x < 0 || y < 0 || x >= img.width() as i32 || y >= img.height() as i32 {
        return;
    }
    let p = img.get_pixel_mut(x as u32, y as u32);
    if alpha >= 1.0 {
        p.0 = c;
    } else {
        p.0 = mix(p.0, c, alpha);
    }
}

/// Clips `r` to the image; `None` when nothing is left.
fn clip(img: &RgbImage, r: Rect) -> Option<(usize, usize, usize, usize)> {
    let x0 = r.x.max(0);
    let y0 = r.y.max(0);
    let x1 = r.right().min(img.width() as i32);
    let y1 = r.bottom().min(img.height() as i32);
    (x1 > x0 && y1 > y0).then_some((x0 as usize, y0 as usize, x1 as usize, y1 as usize))
}

/// Fills a rectangle with an opaque colour.
pub fn fill_rect(img: &mut RgbImage, r: Rect, c: Color) {
    let Some((x0, y0, x1, y1)) = clip(img, r) else {
        return;
    };
    let stride = img.width() as usize * 3;
    let buf: &mut [u8] = img;
    for y in y0..y1 {
        let row = &mut buf[y * stride + x0 * 3..y * stride + x1 * 3];
        for px in row.chunks_exact_mut(3) {
            px.copy_from_slice(&c);
        }
    }
}

/// Blends a colour over a rectangle.
pub fn blend_rect(img: &mut RgbImage, r: Rect, c: Color, alpha: f32) {
    let Some((x0, y0, x1, y1)) = clip(img, r) else {
        return;
    };
    let stride = img.width() as usize * 3;
    let buf: &mut [u8] = img;
    let a = alpha.clamp(0.0, 1.0);
    for y in y0..y1 {
        let row = &mut buf[y * stride + x0 * 3..y * stride + x1 * 3];
        for px in row.chunks_exact_mut(3) {
            let m = mix([px[0], px[1], px[2]], c, a);
            px.copy_from_slice(&m);
        }
    }
}

/// A one-pixel-per-`t` outline inside `r`.
pub fn stroke_rect(img: &mut RgbImage, r: Rect, t: i32, c: Color) {
    fill_rect(img, Rect::new(r.x, r.y, r.w, t), c);
    fill_rect(img, Rect::new(r.x, r.bottom() - t, r.w, t), c);
    fill_rect(img, Rect::new(r.x, r.y, t, r.h), c);
    fill_rect(img, Rect::new(r.right() - t, r.y, t, r.h), c);
}

/// Vertical gradient from `top` to `bottom` over `r`.
pub fn vgradient(img: &mut RgbImage, r: Rect, top: Color, bottom: Color) {
    let h = r.h.max(1) as f32;
    for dy in 0..r.h {
        let c = mix(top, bottom, dy as f32 / h);
        fill_rect(img, Rect::new(r.x, r.y + dy, r.w, 1), c);
    }
}

/// Draws `sd` (signed distance in pixels, negative inside) over the pixels of `bounds`.
pub fn fill_sdf(
    img: &mut RgbImage,
    bounds: Rect,
    c: Color,
    alpha: f32,
    sd: impl Fn(f32, f32) -> f32,
) {
    let Some((x0, y0, x1, y1)) = clip(img, bounds.inset(-1)) else {
        return;
    };
    for y in y0..y1 {
        for x in x0..x1 {
            let d = sd(x as f32 + 0.5, y as f32 + 0.5);
            let cov = (0.5 - d).clamp(0.0, 1.0);
            if cov > 0.0 {
                blend(img, x as i32, y as i32, c, cov * alpha);
            }
        }
    }
}

/// Signed distance to a rounded rectangle (float corners `x0,y0`–`x1,y1`, radius `r`).
pub fn sd_round_rect(px: f32, py: f32, x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> f32 {
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (hx, hy) = ((x1 - x0) / 2.0 - r, (y1 - y0) / 2.0 - r);
    let qx = (px - cx).abs() - hx;
    let qy = (py - cy).abs() - hy;
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

/// Fills a rounded rectangle: the straight parts as row slices, the corners anti-aliased.
pub fn fill_round_rect(img: &mut RgbImage, r: Rect, radius: f32, c: Color) {
    let rad = radius.min(r.w as f32 / 2.0).min(r.h as f32 / 2.0).max(0.0);
    let k = rad.ceil() as i32;
    if k == 0 {
        fill_rect(img, r, c);
        return;
    }
    fill_rect(img, Rect::new(r.x, r.y + k, r.w, r.h - 2 * k), c);
    fill_rect(img, Rect::new(r.x + k, r.y, r.w - 2 * k, k), c);
    fill_rect(img, Rect::new(r.x + k, r.bottom() - k, r.w - 2 * k, k), c);
    let (x0, y0, x1, y1) = (r.x as f32, r.y as f32, r.right() as f32, r.bottom() as f32);
    let sd = |px: f32, py: f32| sd_round_rect(px, py, x0, y0, x1, y1, rad);
    for (cx, cy) in [
        (r.x, r.y),
        (r.right() - k, r.y),
        (r.x, r.bottom() - k),
        (r.right() - k, r.bottom() - k),
    ] {
        let corner = Rect::new(cx, cy, k, k);
        let Some((ax, ay, bx, by)) = clip(img, corner) else {
            continue;
        };
        for y in ay..by {
            for x in ax..bx {
                let cov = (0.5 - sd(x as f32 + 0.5, y as f32 + 0.5)).clamp(0.0, 1.0);
                blend(img, x as i32, y as i32, c, cov);
            }
        }
    }
}

/// A rounded rectangle with a `t`-pixel border: border colour first, then the inset fill.
pub fn bordered_round_rect(
    img: &mut RgbImage,
    r: Rect,
    radius: f32,
    t: i32,
    fill: Color,
    border: Color,
) {
    fill_round_rect(img, r, radius, border);
    fill_round_rect(img, r.inset(t), (radius - t as f32).max(0.0), fill);
}

/// A soft drop shadow under `r`, fading out over `spread` pixels. Only the band around the
/// rectangle is visited: the caller paints the window over the inside.
pub fn drop_shadow(img: &mut RgbImage, r: Rect, radius: f32, spread: i32, strength: f32) {
    let sr = r.offset(0, spread / 3);
    let (x0, y0, x1, y1) = (
        sr.x as f32,
        sr.y as f32,
        sr.right() as f32,
        sr.bottom() as f32,
    );
    let sp = spread.max(1) as f32;
    let Some((ax, ay, bx, by)) = clip(img, sr.inset(-spread - 1)) else {
        return;
    };
    let inner = r.inset(radius.ceil() as i32 + 1);
    for y in ay..by {
        let yi = y as i32;
        let in_rows = yi >= inner.y && yi < inner.bottom();
        let mut x = ax;
        while x < bx {
            let xi = x as i32;
            if in_rows && xi >= inner.x && xi < inner.right() {
                x = inner.right() as usize;
                continue;
            }
            let d = sd_round_rect(x as f32 + 0.5, y as f32 + 0.5, x0, y0, x1, y1, radius);
            if d > -1.0 && d < sp {
                let a = strength * (1.0 - d.max(0.0) / sp).powi(2);
                blend(img, xi, yi, [0, 0, 0], a);
            }
            x += 1;
        }
    }
}

/// An anti-aliased disc.
pub fn fill_circle(img: &mut RgbImage, cx: f32, cy: f32, r: f32, c: Color) {
    let b = Rect::new(
        (cx - r).floor() as i32,
        (cy - r).floor() as i32,
        (2.0 * r).ceil() as i32 + 1,
        (2.0 * r).ceil() as i32 + 1,
    );
    fill_sdf(img, b, c, 1.0, |x, y| {
        ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r
    });
}

/// An anti-aliased ring of width `t` centred on radius `r`.
pub fn stroke_circle(img: &mut RgbImage, cx: f32, cy: f32, r: f32, t: f32, c: Color) {
    let o = r + t / 2.0;
    let b = Rect::new(
        (cx - o).floor() as i32,
        (cy - o).floor() as i32,
        (2.0 * o).ceil() as i32 + 1,
        (2.0 * o).ceil() as i32 + 1,
    );
    fill_sdf(img, b, c, 1.0, |x, y| {
        (((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r).abs() - t / 2.0
    });
}

/// Signed distance to a segment thickened to width `t` (a capsule).
fn sd_capsule(px: f32, py: f32, a: (f32, f32), b: (f32, f32), t: f32) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    let h = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
    ((px - a.0 - dx * h).powi(2) + (py - a.1 - dy * h).powi(2)).sqrt() - t / 2.0
}

/// An anti-aliased line of width `t` with round caps.
pub fn line(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), t: f32, c: Color) {
    let pad = t;
    let bx = Rect::new(
        (a.0.min(b.0) - pad).floor() as i32,
        (a.1.min(b.1) - pad).floor() as i32,
        ((a.0 - b.0).abs() + 2.0 * pad).ceil() as i32 + 1,
        ((a.1 - b.1).abs() + 2.0 * pad).ceil() as i32 + 1,
    );
    fill_sdf(img, bx, c, 1.0, |x, y| sd_capsule(x, y, a, b, t));
}

/// A connected polyline of width `t`.
pub fn polyline(img: &mut RgbImage, pts: &[(f32, f32)], t: f32, c: Color) {
    for w in pts.windows(2) {
        line(img, w[0], w[1], t, c);
    }
}

/// Signed distance to a simple polygon (negative inside, even-odd rule).
pub fn sd_polygon(px: f32, py: f32, pts: &[(f32, f32)]) -> f32 {
    let n = pts.len();
    if n < 3 {
        return f32::INFINITY;
    }
    let mut d2 = f32::INFINITY;
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let (ax, ay) = pts[j];
        let (bx, by) = pts[i];
        let (ex, ey) = (bx - ax, by - ay);
        let (wx, wy) = (px - ax, py - ay);
        let h = ((wx * ex + wy * ey) / (ex * ex + ey * ey).max(1e-9)).clamp(0.0, 1.0);
        d2 = d2.min((wx - ex * h).powi(2) + (wy - ey * h).powi(2));
        if (ay > py) != (by > py) && px < ax + (py - ay) * ex / ey {
            inside = !inside;
        }
        j = i;
    }
    if inside {
        -d2.sqrt()
    } else {
        d2.sqrt()
    }
}

/// The integer bounds of a point set, grown by one pixel.
pub fn bounds_of(pts: &[(f32, f32)]) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    Rect::new(
        x0.floor() as i32 - 1,
        y0.floor() as i32 - 1,
        (x1 - x0).ceil() as i32 + 3,
        (y1 - y0).ceil() as i32 + 3,
    )
}

/// An anti-aliased filled polygon.
pub fn fill_polygon(img: &mut RgbImage, pts: &[(f32, f32)], c: Color) {
    if pts.len() < 3 {
        return;
    }
    fill_sdf(img, bounds_of(pts), c, 1.0, |x, y| sd_polygon(x, y, pts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_clip_and_cover_exactly() {
        let mut img = RgbImage::new(20, 10);
        fill_rect(&mut img, Rect::new(-5, 2, 10, 100), [255, 0, 0]);
        assert_eq!(img.get_pixel(4, 9).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(5, 9).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 1).0, [0, 0, 0]);
        fill_round_rect(&mut img, Rect::new(10, 0, 10, 10), 4.0, [0, 255, 0]);
        assert_eq!(img.get_pixel(15, 5).0, [0, 255, 0]);
        assert_eq!(img.get_pixel(10, 0).0, [0, 0, 0], "corner stays outside");
    }

    #[test]
    fn polygon_distance_has_the_right_sign() {
        let sq = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        assert!((sd_polygon(5.0, 5.0, &sq) + 5.0).abs() < 1e-5);
        assert!((sd_polygon(12.0, 5.0, &sq) - 2.0).abs() < 1e-5);
    }
}
