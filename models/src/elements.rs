//! Element proposals: boxes of the things on a frame that are not text — checkboxes, radio
//! buttons, switches, fields, icons, window controls — found by classical image processing,
//! so the pointer can choose a control as a whole candidate (OmniParser's detected elements)
//! instead of finding it among thousands of patches.
//!
//! The method, identical in training and at run time:
//!
//! 1. **Edges.** A pixel is an edge when any channel differs from its left or upper
//!    neighbour by more than [`EDGE_THRESHOLD`].
//! 2. **Components.** Edge pixels are joined into 8-connected components (two-pass labelling
//!    with union–find). A control's outline, an icon's strokes and an object's silhouette
//!    each become one component.
//! 3. **Filtering.** A component is kept when its box is at least [`MIN_SIDE`] pixels on each
//!    side, at most 60 % of the frame's width and 30 % of its height, and not mostly (60 % of
//!    its area) inside a read word: glyphs are the text candidates' business.
//! 4. **Shape.** Each kept box is described by a few words, which the pointer embeds like
//!    text: its aspect (`square`, `wide`, `bar`, `tall`), whether the middle half of its box
//!    is empty (`frame`: a field, an unticked box, a radio ring) or not (`glyph`: an icon),
//!    and whether a frame's corners are empty (`round`: a radio button, a switch).
//!
//! Near-duplicate boxes (IoU ≥ 0.8) are kept once.

use image::RgbImage;

use crate::geometry::BBox;
use crate::text::TextSpan;

/// Per-channel difference to a neighbour that makes a pixel an edge.
pub const EDGE_THRESHOLD: i16 = 18;
/// The smallest side of a proposal, in pixels.
pub const MIN_SIDE: u32 = 6;
/// Largest share of the frame's width / height a proposal may span.
const MAX_WIDTH_SHARE: f64 = 0.6;
const MAX_HEIGHT_SHARE: f64 = 0.3;
/// A box with this share of its area inside a read word is text, not an element.
const INSIDE_TEXT: f64 = 0.6;
/// Near-duplicates: boxes overlapping this much are one element.
const DUPLICATE_IOU: f64 = 0.8;

/// One proposal, in the frame's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub bbox: BBox,
    /// The shape words (see the module docs), e.g. `["square", "frame", "round"]`.
    pub shape: Vec<&'static str>,
}

impl Element {
    /// The description the pointer reads: `element` then the shape words.
    pub fn description(&self) -> String {
        let mut s = String::from("element");
        for w in &self.shape {
            s.push(' ');
            s.push_str(w);
        }
        s
    }
}

/// Per-component statistics gathered in the labelling passes.
#[derive(Debug, Clone, Copy)]
struct Stats {
    x1: u32,
    y1: u32,
    x2: u32,
    y2: u32,
    pixels: u32,
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[x as usize];
        parent[x as usize] = parent[p as usize];
        x = p;
    }
    x
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

/// The edge map of `img`: 1 where a pixel differs from its left or upper neighbour.
fn edges(img: &RgbImage) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let px = img.as_raw();
    let diff = |a: usize, b: usize| {
        (0..3).any(|c| (i16::from(px[a * 3 + c]) - i16::from(px[b * 3 + c])).abs() > EDGE_THRESHOLD)
    };
    let mut e = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            e[i] = (x > 0 && diff(i, i - 1)) || (y > 0 && diff(i, i - w));
        }
    }
    e
}

/// Labels the 8-connected components of `edge`; returns each pixel's label (`u32::MAX` off
/// the edges) and the components' statistics.
fn components(edge: &[bool], w: usize, h: usize) -> (Vec<u32>, Vec<Stats>) {
    let mut label = vec![u32::MAX; w * h];
    let mut parent: Vec<u32> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !edge[i] {
                continue;
            }
            // Already-labelled neighbours: left, upper-left, up, upper-right.
            let mut mine = u32::MAX;
            let mut neighbours = [u32::MAX; 4];
            if x > 0 {
                neighbours[0] = label[i - 1];
            }
            if y > 0 {
                if x > 0 {
                    neighbours[1] = label[i - w - 1];
                }
                neighbours[2] = label[i - w];
                if x + 1 < w {
                    neighbours[3] = label[i - w + 1];
                }
            }
            for n in neighbours.into_iter().filter(|&n| n != u32::MAX) {
                if mine == u32::MAX {
                    mine = n;
                } else {
                    union(&mut parent, mine, n);
                }
            }
            if mine == u32::MAX {
                mine = parent.len() as u32;
                parent.push(mine);
            }
            label[i] = mine;
        }
    }
    // Resolve to dense component ids.
    let mut dense = vec![u32::MAX; parent.len()];
    let mut stats: Vec<Stats> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if label[i] == u32::MAX {
                continue;
            }
            let root = find(&mut parent, label[i]) as usize;
            if dense[root] == u32::MAX {
                dense[root] = stats.len() as u32;
                stats.push(Stats {
                    x1: x as u32,
                    y1: y as u32,
                    x2: x as u32,
                    y2: y as u32,
                    pixels: 0,
                });
            }
            let id = dense[root];
            label[i] = id;
            let s = &mut stats[id as usize];
            s.x1 = s.x1.min(x as u32);
            s.x2 = s.x2.max(x as u32);
            s.y1 = s.y1.min(y as u32);
            s.y2 = s.y2.max(y as u32);
            s.pixels += 1;
        }
    }
    (label, stats)
}

fn inside_share(b: &BBox, t: &BBox) -> f64 {
    let ix = (b.x2.min(t.x2) - b.x1.max(t.x1)).max(0.0);
    let iy = (b.y2.min(t.y2) - b.y1.max(t.y1)).max(0.0);
    ix * iy / (b.width() * b.height()).max(1e-9)
}

fn iou(a: &BBox, b: &BBox) -> f64 {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let i = ix * iy;
    i / (a.width() * a.height() + b.width() * b.height() - i).max(1e-9)
}

/// The boxes text is read in: each word of a span, or the span when it has no words.
pub fn text_boxes(spans: &[TextSpan]) -> Vec<BBox> {
    crate::text::read_words(spans).map(|(_, b)| b).collect()
}

/// The element proposals of `img`, given the boxes its text was read in, in reading order
/// (top to bottom, then left to right): [`Components::find`] then [`Components::elements`].
pub fn detect(img: &RgbImage, text: &[BBox]) -> Vec<Element> {
    Components::find(img).elements(text)
}

/// Steps 1 and 2 of the method (edges, connected components) on one frame: the costly part,
/// which depends on the pixels only, so a caller that filters the same frame with two sets of
/// text boxes (the icon reader, then the pointer with the icons among its text) does it once.
#[derive(Debug, Clone, Default)]
pub struct Components {
    width: usize,
    label: Vec<u32>,
    stats: Vec<Stats>,
    /// The largest box a proposal may have (a share of the frame).
    max_w: f64,
    max_h: f64,
}

impl Components {
    /// The edge components of `img` (none on a frame under 2×2 pixels).
    pub fn find(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        if w < 2 || h < 2 {
            return Self::default();
        }
        let (label, stats) = components(&edges(img), w, h);
        Self {
            width: w,
            label,
            stats,
            max_w: w as f64 * MAX_WIDTH_SHARE,
            max_h: h as f64 * MAX_HEIGHT_SHARE,
        }
    }

    /// Steps 3 and 4: the kept components as proposals, given the boxes the frame's text was
    /// read in, in reading order.
    pub fn elements(&self, text: &[BBox]) -> Vec<Element> {
        let mut keep: Vec<(usize, BBox)> = Vec::new();
        for (id, s) in self.stats.iter().enumerate() {
            let (bw, bh) = (s.x2 - s.x1 + 1, s.y2 - s.y1 + 1);
            if bw < MIN_SIDE
                || bh < MIN_SIDE
                || f64::from(bw) > self.max_w
                || f64::from(bh) > self.max_h
            {
                continue;
            }
            let b = BBox::new(
                f64::from(s.x1),
                f64::from(s.y1),
                f64::from(s.x2 + 1),
                f64::from(s.y2 + 1),
            );
            if text.iter().any(|t| inside_share(&b, t) >= INSIDE_TEXT) {
                continue;
            }
            if keep.iter().any(|(_, k)| iou(k, &b) >= DUPLICATE_IOU) {
                continue;
            }
            keep.push((id, b));
        }
        let mut out: Vec<Element> = keep
            .into_iter()
            .map(|(id, b)| Element {
                bbox: b,
                shape: shape(&self.label, self.width, id as u32, &self.stats[id]),
            })
            .collect();
        out.sort_by(|a, b| {
            a.bbox
                .y1
                .total_cmp(&b.bbox.y1)
                .then(a.bbox.x1.total_cmp(&b.bbox.x1))
        });
        out
    }
}

/// The shape words of component `id` (see the module docs).
fn shape(label: &[u32], w: usize, id: u32, s: &Stats) -> Vec<&'static str> {
    let (bw, bh) = (f64::from(s.x2 - s.x1 + 1), f64::from(s.y2 - s.y1 + 1));
    let aspect = bw / bh;
    let mut words = vec![if aspect > 4.0 {
        "bar"
    } else if aspect > 1.33 {
        "wide"
    } else if aspect < 0.75 {
        "tall"
    } else {
        "square"
    }];
    // Hollow: nothing of the component in the middle half of its box.
    let (w4, h4) = ((s.x2 - s.x1 + 1) / 4, (s.y2 - s.y1 + 1) / 4);
    let mut middle = 0u32;
    let mut corners = 0u32;
    let c = ((s.x2 - s.x1 + 1).min(s.y2 - s.y1 + 1) / 8).max(1);
    for y in s.y1..=s.y2 {
        for x in s.x1..=s.x2 {
            if label[y as usize * w + x as usize] != id {
                continue;
            }
            let (dx, dy) = ((x - s.x1).min(s.x2 - x), (y - s.y1).min(s.y2 - y));
            if dx >= w4 && dy >= h4 {
                middle += 1;
            }
            if dx < c && dy < c {
                corners += 1;
            }
        }
    }
    if middle == 0 {
        words.push("frame");
        if corners == 0 {
            words.push("round");
        }
    } else {
        words.push("glyph");
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn canvas() -> RgbImage {
        RgbImage::from_pixel(400, 200, Rgb([240, 240, 240]))
    }

    fn outline(img: &mut RgbImage, x1: u32, y1: u32, x2: u32, y2: u32) {
        for x in x1..=x2 {
            img.put_pixel(x, y1, Rgb([60, 60, 60]));
            img.put_pixel(x, y2, Rgb([60, 60, 60]));
        }
        for y in y1..=y2 {
            img.put_pixel(x1, y, Rgb([60, 60, 60]));
            img.put_pixel(x2, y, Rgb([60, 60, 60]));
        }
    }

    #[test]
    fn finds_a_checkbox_and_a_field_and_describes_them() {
        let mut img = canvas();
        outline(&mut img, 10, 10, 25, 25); // checkbox
        outline(&mut img, 60, 40, 150, 70); // field
        let els = detect(&img, &[]);
        assert_eq!(els.len(), 2, "{els:?}");
        assert_eq!(els[0].bbox, BBox::new(10.0, 10.0, 27.0, 27.0));
        assert_eq!(els[0].shape, ["square", "frame"]);
        assert_eq!(els[1].shape, ["wide", "frame"]);
        assert_eq!(els[0].description(), "element square frame");
    }

    #[test]
    fn a_ring_is_round_and_a_filled_blob_is_a_glyph() {
        let mut img = canvas();
        for a in 0..360 {
            let t = f64::from(a).to_radians();
            let (x, y) = (40.0 + 10.0 * t.cos(), 50.0 + 10.0 * t.sin());
            img.put_pixel(x.round() as u32, y.round() as u32, Rgb([0, 0, 0]));
        }
        for y in 40..60 {
            for x in 120..140 {
                if (x + y) % 3 == 0 {
                    img.put_pixel(x, y, Rgb([0, 0, 0]));
                }
            }
        }
        let els = detect(&img, &[]);
        let ring = els.iter().find(|e| e.bbox.x1 < 60.0).expect("the ring");
        assert!(ring.shape.contains(&"round"), "{ring:?}");
        let blob = els.iter().find(|e| e.bbox.x1 > 100.0).expect("the blob");
        assert!(blob.shape.contains(&"glyph"), "{blob:?}");
    }

    #[test]
    fn boxes_inside_read_words_tiny_specks_and_huge_frames_are_dropped() {
        let mut img = canvas();
        outline(&mut img, 10, 10, 25, 25);
        outline(&mut img, 100, 10, 102, 12); // a speck
        outline(&mut img, 1, 1, 398, 198); // the whole frame
        let word = BBox::new(8.0, 8.0, 30.0, 30.0);
        assert!(detect(&img, &[word]).is_empty());
        assert!(detect(&RgbImage::new(1, 1), &[]).is_empty());
    }
}
