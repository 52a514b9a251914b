//! Icon captions: the perception stage's icon reader (OmniParser's icon captioner, small).
//! Icons have no text, and the pointer reads; so a small classifier, trained on icons drawn
//! from 14 npm icon sets (`scripts/icon_sheets.sh`, `reticle-train icons`), names each icon-like
//! thing on a frame, and the name becomes a text span ("search magnifier magnifying glass
//! icon") that the pointer scores like any read text.
//!
//! The contract shared by the trainer and the runtime, so both cut the same crops:
//!
//! - [`IconStage`]: the package's classifier graph, its classes and its threshold (manifest
//!   `perception.icons`);
//! - [`crop_boxes`]: what is classified on a frame — element proposals of icon size and shape
//!   (`crate::elements`), and read words of one or two characters (a reader reads `×` as `X`,
//!   `⚙` as `@`);
//! - [`crop_input`]: a box → the classifier's `[1, 32, 32]` input, an "ink" map: luma's
//!   distance from the crop's border (its background), scaled to 0..1 — the same for any
//!   colour and theme;
//! - [`icon_spans`]: the classes above the threshold → spans, marked with their class.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::elements;
use crate::geometry::BBox;
use crate::manifest::ModelFile;
use crate::text::TextSpan;

/// The classifier's input side, in pixels.
pub const INPUT: usize = 32;
/// The label of everything that is not one of the classes (the graph's last output).
pub const OTHER: &str = "other";
/// A crop is this much larger than its box (plus [`MARGIN_PX`]), so strokes at the edge show.
const CONTEXT: f64 = 1.15;
const MARGIN_PX: f64 = 2.0;
/// Crop candidates: sides in pixels, and the largest aspect ratio.
const MIN_SIDE: f64 = 7.0;
const MAX_SIDE: f64 = 96.0;
const MAX_ASPECT: f64 = 2.5;
/// Read words this short, with a character that is not an ASCII letter or digit, may be
/// icons the reader read as characters (`川州` for two align icons, `口` for a trash can).
const MAX_WORD_CHARS: usize = 3;
/// At most this many crops per frame (the nearest the top-left first; a frame has ~16).
pub const MAX_CROPS: usize = 96;

/// One icon class: its key and the words a user calls it (the span's text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IconClass {
    pub key: String,
    pub names: Vec<String>,
}

/// The icon reader a package uses (manifest `perception.icons`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IconStage {
    /// The classifier graph: `crops [N, 1, 32, 32]` → `probs [N, K + 1]` (softmax; the last
    /// column is [`OTHER`]).
    pub model: ModelFile,
    pub classes: Vec<IconClass>,
    /// A crop becomes a span when its best class (not [`OTHER`]) has at least this probability.
    pub threshold: f32,
}

impl IconStage {
    pub fn validate(&self) -> Result<(), String> {
        if self.classes.is_empty() {
            return Err("`perception.icons.classes` is empty".into());
        }
        if let Some(c) = self
            .classes
            .iter()
            .find(|c| c.names.is_empty() || c.key.is_empty())
        {
            return Err(format!(
                "`perception.icons.classes`: class `{}` needs a key and at least one name",
                c.key
            ));
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(format!(
                "`perception.icons.threshold` must be in (0, 1), got {}",
                self.threshold
            ));
        }
        Ok(())
    }
}

/// The text of a recognised icon's span: its names, then "icon" ("close x cross × icon").
pub fn span_text(class: &IconClass) -> String {
    let mut s = class.names.join(" ");
    s.push_str(" icon");
    s
}

/// The boxes classified on a frame: element proposals of icon size and shape (from the
/// frame's edge `components`, [`elements::Components::find`] of `rgb`, filtered with the read
/// text's boxes as the pointer's candidates are), then read words of at most two characters,
/// duplicates (IoU ≥ 0.8) once.
pub fn crop_boxes(
    rgb: &RgbImage,
    components: &elements::Components,
    spans: &[TextSpan],
) -> Vec<BBox> {
    let iconish = |b: &BBox| {
        let (w, h) = (b.width(), b.height());
        w >= MIN_SIDE
            && h >= MIN_SIDE
            && w <= MAX_SIDE
            && h <= MAX_SIDE
            && w.max(h) <= MAX_ASPECT * w.min(h)
    };
    let mut out: Vec<BBox> = components
        .elements(&elements::text_boxes(spans))
        .into_iter()
        .map(|e| e.bbox)
        .filter(iconish)
        .collect();
    for (text, b) in crate::text::read_words(spans) {
        for g in glyph_boxes(rgb, text, &b) {
            if !out.iter().any(|o| o.iou(&g) >= 0.8) {
                out.push(g);
            }
        }
    }
    out.truncate(MAX_CROPS);
    out
}

/// The glyph boxes of a read word that may be icons: a one-character word (`X` for `×`, `B`
/// for a bold button), or a word of up to [`MAX_WORD_CHARS`] with a character that is not an
/// ASCII letter or digit. The word's box is cut into one slice per character (a reader's
/// box spans the line's height and neighbouring icons), and each slice shrinks to its ink.
fn glyph_boxes(rgb: &RgbImage, text: &str, b: &BBox) -> Vec<BBox> {
    let chars: Vec<char> = text.trim().chars().collect();
    let n = chars.len();
    let glyphy =
        n == 1 || (n <= MAX_WORD_CHARS && chars.iter().any(|c| !c.is_ascii_alphanumeric()));
    if n == 0 || !glyphy || !(b.width() > 0.0 && b.height() > 0.0) {
        return Vec::new();
    }
    let step = b.width() / n as f64;
    (0..n)
        .filter_map(|k| {
            let x1 = b.x1 + step * k as f64;
            let slice = [
                x1.floor().max(0.0) as u32,
                b.y1.floor().max(0.0) as u32,
                (x1 + step).ceil().max(0.0) as u32,
                b.y2.ceil().max(0.0) as u32,
            ];
            let g = ink_box(rgb, slice)?;
            (g.width().max(g.height()) >= MIN_SIDE && g.width().max(g.height()) <= MAX_SIDE)
                .then_some(g)
        })
        .collect()
}

/// The classifier's input for `bbox` of `rgb`: a square crop `CONTEXT ×` the box's longer side
/// (+ 2 px) around its centre, bilinearly resampled to 32 × 32 luma (edges clamped), then the
/// distance from the median of its border ring, divided by the largest (at least 0.1).
pub fn crop_input(rgb: &RgbImage, bbox: &BBox) -> [f32; INPUT * INPUT] {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut out = [0f32; INPUT * INPUT];
    if w == 0 || h == 0 {
        return out;
    }
    let c = bbox.center();
    let side = bbox.width().max(bbox.height()) * CONTEXT + MARGIN_PX;
    let (x0, y0) = (c.x - side / 2.0, c.y - side / 2.0);
    let step = side / INPUT as f64;
    let luma = |x: usize, y: usize| {
        let p = rgb.get_pixel(x as u32, y as u32).0;
        (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0
    };
    for j in 0..INPUT {
        for i in 0..INPUT {
            // Pixel centres: sample (i, j) sits at x0 + (i + 0.5) · step.
            let fx = (x0 + (i as f64 + 0.5) * step - 0.5).clamp(0.0, (w - 1) as f64);
            let fy = (y0 + (j as f64 + 0.5) * step - 0.5).clamp(0.0, (h - 1) as f64);
            let (xa, ya) = (fx.floor() as usize, fy.floor() as usize);
            let (xb, yb) = ((xa + 1).min(w - 1), (ya + 1).min(h - 1));
            let (tx, ty) = ((fx - xa as f64) as f32, (fy - ya as f64) as f32);
            let top = luma(xa, ya) * (1.0 - tx) + luma(xb, ya) * tx;
            let bot = luma(xa, yb) * (1.0 - tx) + luma(xb, yb) * tx;
            out[j * INPUT + i] = top * (1.0 - ty) + bot * ty;
        }
    }
    let mut ring: Vec<f32> = (0..INPUT)
        .flat_map(|k| {
            [
                out[k],
                out[(INPUT - 1) * INPUT + k],
                out[k * INPUT],
                out[k * INPUT + INPUT - 1],
            ]
        })
        .collect();
    ring.sort_by(f32::total_cmp);
    let bg = ring[ring.len() / 2];
    let mut peak = 0.1f32;
    for v in out.iter_mut() {
        *v = (*v - bg).abs();
        peak = peak.max(*v);
    }
    for v in out.iter_mut() {
        *v /= peak;
    }
    out
}

/// Spans for the crops whose best class clears the stage's threshold: `probs` holds
/// `classes.len() + 1` probabilities per box (the last is [`OTHER`]). A span's score is its
/// probability, its `icon` the class key; it has no words.
pub fn icon_spans(stage: &IconStage, boxes: &[BBox], probs: &[f32]) -> Vec<TextSpan> {
    let k = stage.classes.len() + 1;
    boxes
        .iter()
        .zip(probs.chunks_exact(k))
        .filter_map(|(b, p)| {
            let (best, &pb) = p[..k - 1]
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))?;
            (pb >= stage.threshold).then(|| {
                let class = &stage.classes[best];
                TextSpan {
                    text: span_text(class),
                    bbox: *b,
                    score: pb,
                    words: Vec::new(),
                    icon: Some(class.key.clone()),
                }
            })
        })
        .collect()
}

/// The tight box of the pixels of `region` (x1, y1, x2, y2 in pixels, clipped to the image)
/// that differ from its top-left pixel by more than `elements::EDGE_THRESHOLD` in some
/// channel: the trainer's stand-in for the element proposal a rendered icon gives.
pub fn ink_box(rgb: &RgbImage, region: [u32; 4]) -> Option<BBox> {
    let [x1, y1, x2, y2] = region;
    let (x2, y2) = (x2.min(rgb.width()), y2.min(rgb.height()));
    if x1 >= x2 || y1 >= y2 {
        return None;
    }
    let bg = rgb.get_pixel(x1, y1).0;
    let (mut lx, mut ly, mut hx, mut hy) = (u32::MAX, u32::MAX, 0, 0);
    for y in y1..y2 {
        for x in x1..x2 {
            let p = rgb.get_pixel(x, y).0;
            if (0..3).any(|c| (p[c] as i16 - bg[c] as i16).abs() > elements::EDGE_THRESHOLD) {
                lx = lx.min(x);
                ly = ly.min(y);
                hx = hx.max(x);
                hy = hy.max(y);
            }
        }
    }
    (lx <= hx).then(|| BBox::new(lx as f64, ly as f64, hx as f64 + 1.0, hy as f64 + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn stage() -> IconStage {
        IconStage {
            model: ModelFile {
                file: "icons.onnx".into(),
                sha256: "0".repeat(64),
            },
            classes: vec![
                IconClass {
                    key: "search".into(),
                    names: vec!["search".into(), "magnifier".into()],
                },
                IconClass {
                    key: "close".into(),
                    names: vec!["close".into()],
                },
            ],
            threshold: 0.5,
        }
    }

    #[test]
    fn the_ink_map_is_the_same_in_both_themes() {
        let draw = |bg: u8, fg: u8| {
            let mut img = RgbImage::from_pixel(40, 40, Rgb([bg; 3]));
            for i in 10..30 {
                img.put_pixel(i, i, Rgb([fg; 3]));
                img.put_pixel(i, 20, Rgb([fg; 3]));
            }
            img
        };
        let b = BBox::new(10.0, 10.0, 30.0, 30.0);
        let light = crop_input(&draw(250, 20), &b);
        let dark = crop_input(&draw(20, 250), &b);
        let diff = light
            .iter()
            .zip(&dark)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "themes differ by {diff}");
        assert!((light.iter().cloned().fold(0f32, f32::max) - 1.0).abs() < 1e-6);
        // The background ring reads 0.
        assert_eq!(light[0], 0.0);
    }

    #[test]
    fn a_flat_crop_stays_dark() {
        let img = RgbImage::from_pixel(20, 20, Rgb([128; 3]));
        let x = crop_input(&img, &BBox::new(2.0, 2.0, 12.0, 12.0));
        assert!(x.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn spans_need_the_threshold_and_never_name_other() {
        let s = stage();
        let boxes = [
            BBox::new(0.0, 0.0, 10.0, 10.0),
            BBox::new(20.0, 0.0, 30.0, 10.0),
            BBox::new(40.0, 0.0, 50.0, 10.0),
        ];
        let probs = [0.7, 0.2, 0.1, 0.3, 0.3, 0.4, 0.1, 0.45, 0.45];
        let spans = icon_spans(&s, &boxes, &probs);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].text, "search magnifier icon");
        assert_eq!(spans[0].icon.as_deref(), Some("search"));
        assert_eq!(spans[0].bbox, boxes[0]);
    }

    #[test]
    fn ink_box_is_tight() {
        let mut img = RgbImage::from_pixel(30, 30, Rgb([255; 3]));
        img.put_pixel(7, 9, Rgb([0; 3]));
        img.put_pixel(12, 20, Rgb([0; 3]));
        assert_eq!(
            ink_box(&img, [0, 0, 30, 30]),
            Some(BBox::new(7.0, 9.0, 13.0, 21.0))
        );
        assert_eq!(ink_box(&img, [20, 0, 30, 30]), None);
    }

    #[test]
    fn a_read_word_of_glyphs_is_cut_into_one_box_per_glyph() {
        // Two dark squares side by side, read as one two-character word spanning the line.
        let mut img = RgbImage::from_pixel(60, 30, Rgb([255; 3]));
        for (x0, x1) in [(5u32, 17u32), (35, 49)] {
            for y in 8..20 {
                for x in x0..x1 {
                    img.put_pixel(x, y, Rgb([0; 3]));
                }
            }
        }
        let line = BBox::new(0.0, 0.0, 60.0, 30.0);
        let got = glyph_boxes(&img, "川州", &line);
        assert_eq!(
            got,
            vec![
                BBox::new(5.0, 8.0, 17.0, 20.0),
                BBox::new(35.0, 8.0, 49.0, 20.0)
            ]
        );
        // Words are not icons: only one character, or a few with a non-ASCII one, are cut.
        assert!(glyph_boxes(&img, "Save", &line).is_empty());
        assert!(glyph_boxes(&img, "OK", &line).is_empty());
        assert_eq!(
            glyph_boxes(&img, "X", &BBox::new(0.0, 0.0, 30.0, 30.0)).len(),
            1
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = stage();
        assert!(s.validate().is_ok());
        s.threshold = 1.0;
        assert!(s.validate().unwrap_err().contains("threshold"));
        s.threshold = 0.5;
        s.classes[1].names.clear();
        assert!(s.validate().unwrap_err().contains("close"));
    }
}
