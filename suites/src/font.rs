//! The embedded DejaVu fonts and a small text renderer with exact metrics.
//!
//! imageproc's `draw_text_mut` positions text by the top of its tallest glyph, which makes
//! baselines wander between labels; the suites align widgets on baselines and need the text
//! box they drew, so this module lays glyphs out itself (advance + kerning) and blends their
//! coverage onto the image.

use std::cell::RefCell;
use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;

use super::canvas::{blend, Color};
use crate::error::{Error, Result};

static REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// A text run as drawn: its string, the box of its ink (pixels, clipped to the image) and
/// its pixel scale. Recorded by a [`Recording`].
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnText {
    pub text: String,
    pub rect: [f32; 4],
    pub px: f32,
    pub color: Color,
}

thread_local! {
    static DRAWN: RefCell<Option<Vec<DrawnText>>> = const { RefCell::new(None) };
}

/// Records every text run drawn on this thread while it lives, in drawing order (the ground
/// truth of what a text reader should read). Dropping it restores the previous recording.
#[derive(Debug)]
pub struct Recording {
    saved: Option<Vec<DrawnText>>,
    done: bool,
}

impl Recording {
    pub fn start() -> Self {
        let saved = DRAWN.with(|d| d.borrow_mut().replace(Vec::new()));
        Self { saved, done: false }
    }

    /// Stops recording and returns what was drawn.
    pub fn finish(mut self) -> Vec<DrawnText> {
        self.done = true;
        let saved = self.saved.take();
        DRAWN
            .with(|d| std::mem::replace(&mut *d.borrow_mut(), saved))
            .unwrap_or_default()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.done {
            let saved = self.saved.take();
            DRAWN.with(|d| *d.borrow_mut() = saved);
        }
    }
}

/// How many text runs have been recorded so far on this thread (0 when not recording).
pub fn drawn_len() -> usize {
    DRAWN.with(|d| d.borrow().as_ref().map_or(0, Vec::len))
}

/// Font weight of a text run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// How a text run is painted: weight, pixel scale and colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ink {
    pub weight: Weight,
    pub px: f32,
    pub color: Color,
}

impl Ink {
    pub fn new(weight: Weight, px: f32, color: Color) -> Self {
        Self { weight, px, color }
    }
}

/// The parsed fonts, shared by every thread.
#[derive(Debug)]
pub struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
    /// Cap height as a fraction of the pixel scale (the height of "H").
    cap: f32,
}

/// The process-wide fonts; parsing happens once.
pub fn fonts() -> Result<&'static Fonts> {
    static FONTS: OnceLock<std::result::Result<Fonts, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let regular =
                FontRef::try_from_slice(REGULAR_TTF).map_err(|e| format!("DejaVuSans.ttf: {e}"))?;
            let bold = FontRef::try_from_slice(BOLD_TTF)
                .map_err(|e| format!("DejaVuSans-Bold.ttf: {e}"))?;
            let h = regular
                .outline(regular.glyph_id('H'))
                .map_or(0.73 * regular.units_per_em().unwrap_or(2048.0), |o| {
                    (o.bounds.max.y - o.bounds.min.y).abs()
                });
            let cap = h / regular.height_unscaled();
            Ok(Fonts { regular, bold, cap })
        })
        .as_ref()
        .map_err(|m| Error::invalid("embedded font", m.clone()))
}

impl Fonts {
    fn font(&self, w: Weight) -> &FontRef<'static> {
        match w {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// Height of capital letters at pixel scale `px`.
    pub fn cap_height(&self, px: f32) -> f32 {
        self.cap * px
    }

    /// Advance width of `text` at pixel scale `px`.
    pub fn width(&self, w: Weight, px: f32, text: &str) -> f32 {
        let f = self.font(w).as_scaled(PxScale::from(px));
        let mut x = 0.0;
        let mut last = None;
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(prev) = last {
                x += f.kern(prev, id);
            }
            x += f.h_advance(id);
            last = Some(id);
        }
        x
    }

    /// Draws `text` with its baseline at `baseline` and its pen starting at `x`.
    pub fn draw(&self, img: &mut RgbImage, ink: Ink, x: f32, baseline: f32, text: &str) {
        let font = self.font(ink.weight);
        let f = font.as_scaled(PxScale::from(ink.px));
        let mut pen = x;
        let mut last = None;
        let mut ink_box = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(prev) = last {
                pen += f.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(ink.px, point(pen, baseline));
            pen += f.h_advance(id);
            last = Some(id);
            if let Some(og) = font.outline_glyph(glyph) {
                let b = og.px_bounds();
                ink_box = [
                    ink_box[0].min(b.min.x),
                    ink_box[1].min(b.min.y),
                    ink_box[2].max(b.max.x),
                    ink_box[3].max(b.max.y),
                ];
                let (ox, oy) = (b.min.x as i32, b.min.y as i32);
                og.draw(|gx, gy, cov| {
                    blend(img, ox + gx as i32, oy + gy as i32, ink.color, cov.min(1.0))
                });
            }
        }
        if ink_box[0] < ink_box[2] {
            let (w, h) = (img.width() as f32, img.height() as f32);
            DRAWN.with(|d| {
                if let Some(v) = d.borrow_mut().as_mut() {
                    v.push(DrawnText {
                        text: text.to_string(),
                        rect: [
                            ink_box[0].clamp(0.0, w),
                            ink_box[1].clamp(0.0, h),
                            ink_box[2].clamp(0.0, w),
                            ink_box[3].clamp(0.0, h),
                        ],
                        px: ink.px,
                        color: ink.color,
                    })
                }
            });
        }
    }

    /// Draws `text` vertically centred on `cy` (by cap height), starting at `x`; returns its width.
    pub fn draw_centered_v(
        &self,
        img: &mut RgbImage,
        ink: Ink,
        x: f32,
        cy: f32,
        text: &str,
    ) -> f32 {
        let baseline = (cy + self.cap_height(ink.px) / 2.0).round();
        self.draw(img, ink, x.round(), baseline, text);
        self.width(ink.weight, ink.px, text)
    }

    /// Draws `text` centred on `(cx, cy)`; returns its width.
    pub fn draw_centered(&self, img: &mut RgbImage, ink: Ink, cx: f32, cy: f32, text: &str) -> f32 {
        let width = self.width(ink.weight, ink.px, text);
        self.draw_centered_v(img, ink, cx - width / 2.0, cy, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fonts_parse_and_measure() {
        let f = fonts().unwrap();
        let a = f.width(Weight::Regular, 20.0, "Save");
        assert!(a > 30.0 && a < 60.0, "{a}");
        assert!(f.width(Weight::Bold, 20.0, "Save") > a);
        let cap = f.cap_height(20.0);
        assert!(cap > 12.0 && cap < 16.0, "{cap}");
        let mut img = RgbImage::new(80, 30);
        f.draw_centered(
            &mut img,
            Ink::new(Weight::Regular, 20.0, [255, 255, 255]),
            40.0,
            15.0,
            "Save",
        );
        assert!(img.pixels().any(|p| p.0[0] > 200));
    }
}
