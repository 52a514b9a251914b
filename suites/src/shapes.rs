//! The `shapes` suite: coloured 2-D shapes on varied backgrounds, for detection (`boxes`),
//! classification (`label`) and counting (`count`), the Visual-RFT / Reason-RFT style tasks.
//!
//! Shapes never overlap (their circumscribed circles keep a gap), so every box is the tight
//! box of one whole shape, rounded outwards to pixel edges.

use image::RgbImage;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::canvas::{fill_circle, fill_polygon, fill_rect, mix, vgradient, Color, Rect};
use super::{ipx, Sample};
use crate::error::{Error, Result};
use reticle_models::dataset::{Record, Target, Task};
use reticle_models::geometry::BBox;

/// Knobs of the `shapes` suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShapesConfig {
    /// Square image side in pixels.
    pub size: u32,
    pub min_shapes: usize,
    pub max_shapes: usize,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        Self {
            size: 512,
            min_shapes: 3,
            max_shapes: 10,
        }
    }
}

impl ShapesConfig {
    pub fn validate(&self) -> Result<()> {
        if self.size < 96 || self.size > 4096 {
            return Err(Error::invalid(
                "shapes.size",
                format!("{} is outside 96..=4096", self.size),
            ));
        }
        if self.min_shapes == 0 || self.min_shapes > self.max_shapes || self.max_shapes > 40 {
            return Err(Error::invalid(
                "shapes.min_shapes/max_shapes",
                format!(
                    "need 1 <= min ({}) <= max ({}) <= 40",
                    self.min_shapes, self.max_shapes
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Circle,
    Square,
    Triangle,
    Star,
    Pentagon,
    Hexagon,
    Diamond,
    Cross,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Circle,
        Kind::Square,
        Kind::Triangle,
        Kind::Star,
        Kind::Pentagon,
        Kind::Hexagon,
        Kind::Diamond,
        Kind::Cross,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Circle => "circle",
            Kind::Square => "square",
            Kind::Triangle => "triangle",
            Kind::Star => "star",
            Kind::Pentagon => "pentagon",
            Kind::Hexagon => "hexagon",
            Kind::Diamond => "diamond",
            Kind::Cross => "cross",
        }
    }

    fn plural(self) -> String {
        match self {
            Kind::Cross => "crosses".into(),
            k => format!("{}s", k.name()),
        }
    }
}

const COLOURS: [(&str, Color); 10] = [
    ("red", [214, 40, 40]),
    ("green", [46, 160, 67]),
    ("blue", [37, 99, 235]),
    ("yellow", [245, 197, 24]),
    ("purple", [130, 60, 190]),
    ("orange", [245, 124, 20]),
    ("pink", [240, 110, 170]),
    ("cyan", [34, 190, 210]),
    ("black", [24, 24, 24]),
    ("white", [250, 250, 250]),
];

#[derive(Debug, Clone)]
struct Shape {
    kind: Kind,
    colour: usize,
    cx: f32,
    cy: f32,
    r: f32,
    /// Outline vertices (empty for circles).
    pts: Vec<(f32, f32)>,
}

impl Shape {
    fn bbox(&self) -> BBox {
        let (x1, y1, x2, y2) = if self.pts.is_empty() {
            (
                self.cx - self.r,
                self.cy - self.r,
                self.cx + self.r,
                self.cy + self.r,
            )
        } else {
            self.pts.iter().fold(
                (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
                |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
            )
        };
        BBox::new(
            x1.floor() as f64,
            y1.floor() as f64,
            x2.ceil() as f64,
            y2.ceil() as f64,
        )
    }

    fn area(&self) -> f64 {
        if self.pts.is_empty() {
            return std::f64::consts::PI * (self.r as f64).powi(2);
        }
        let n = self.pts.len();
        let s: f64 = (0..n)
            .map(|i| {
                let (a, b) = (self.pts[i], self.pts[(i + 1) % n]);
                a.0 as f64 * b.1 as f64 - b.0 as f64 * a.1 as f64
            })
            .sum();
        s.abs() / 2.0
    }

    fn colour_name(&self) -> &'static str {
        COLOURS[self.colour].0
    }

    fn centre_text(&self) -> String {
        let c = self.bbox().center();
        format!("({},{})", ipx(c.x), ipx(c.y))
    }
}

/// Regular polygon vertices around `(cx, cy)`, starting at angle `rot` (radians, 0 = up).
fn regular(cx: f32, cy: f32, radii: &[f32], n: usize, rot: f32) -> Vec<(f32, f32)> {
    (0..n)
        .map(|i| {
            let a = rot + i as f32 * std::f32::consts::TAU / n as f32;
            let r = radii[i % radii.len()];
            (cx + r * a.sin(), cy - r * a.cos())
        })
        .collect()
}

fn outline(kind: Kind, cx: f32, cy: f32, r: f32, rng: &mut ChaCha8Rng) -> Vec<(f32, f32)> {
    let small = rng.gen_range(-0.2f32..0.2);
    let any = rng.gen_range(0.0f32..std::f32::consts::TAU);
    match kind {
        Kind::Circle => Vec::new(),
        // Squares stay near axis-aligned so they never read as diamonds.
        Kind::Square => regular(cx, cy, &[r], 4, std::f32::consts::FRAC_PI_4 + small),
        Kind::Triangle => regular(cx, cy + r * 0.15, &[r], 3, small),
        Kind::Star => regular(cx, cy, &[r, r * 0.45], 10, any),
        Kind::Pentagon => regular(cx, cy, &[r], 5, any),
        Kind::Hexagon => regular(cx, cy, &[r], 6, any),
        Kind::Diamond => vec![
            (cx, cy - r),
            (cx + 0.62 * r, cy),
            (cx, cy + r),
            (cx - 0.62 * r, cy),
        ],
        Kind::Cross => {
            let a = 0.34 * r;
            let b = 0.9 * r;
            vec![
                (-a, -b),
                (a, -b),
                (a, -a),
                (b, -a),
                (b, a),
                (a, a),
                (a, b),
                (-a, b),
                (-a, a),
                (-b, a),
                (-b, -a),
                (-a, -a),
            ]
            .into_iter()
            .map(|(x, y)| (cx + x, cy + y))
            .collect()
        }
    }
}

fn colour_dist(a: Color, b: Color) -> i32 {
    (0..3).map(|i| (a[i] as i32 - b[i] as i32).abs()).sum()
}

/// Paints the background and returns its name and mean colour.
fn background(img: &mut RgbImage, rng: &mut ChaCha8Rng) -> (&'static str, Color) {
    let (w, h) = (img.width() as i32, img.height() as i32);
    let dark = rng.gen_bool(0.3);
    let mut tone = || -> Color {
        if dark {
            [
                rng.gen_range(20..70),
                rng.gen_range(20..70),
                rng.gen_range(20..70),
            ]
        } else {
            [
                rng.gen_range(185..250),
                rng.gen_range(185..250),
                rng.gen_range(185..250),
            ]
        }
    };
    let (a, b) = (tone(), tone());
    let full = Rect::new(0, 0, w, h);
    let name = match rng.gen_range(0..4) {
        0 => {
            fill_rect(img, full, a);
            "plain"
        }
        1 => {
            vgradient(img, full, a, b);
            "gradient"
        }
        2 => {
            let cell = rng.gen_range(16..64);
            let b = mix(a, b, 0.35);
            for y in (0..h).step_by(cell as usize) {
                for x in (0..w).step_by(cell as usize) {
                    let c = if ((x / cell) + (y / cell)) % 2 == 0 {
                        a
                    } else {
                        b
                    };
                    fill_rect(img, Rect::new(x, y, cell, cell), c);
                }
            }
            "checker"
        }
        _ => {
            fill_rect(img, full, a);
            let amp = 10i32;
            for p in img.pixels_mut() {
                let n = rng.gen_range(-amp..=amp);
                for c in p.0.iter_mut() {
                    *c = (*c as i32 + n).clamp(0, 255) as u8;
                }
            }
            "noise"
        }
    };
    (name, mix(a, b, 0.5))
}

fn place(cfg: &ShapesConfig, rng: &mut ChaCha8Rng, bg: Color) -> Vec<Shape> {
    let size = cfg.size as f32;
    let n = rng.gen_range(cfg.min_shapes..=cfg.max_shapes);
    let palette: Vec<usize> = (0..COLOURS.len())
        .filter(|&i| colour_dist(COLOURS[i].1, bg) > 200)
        .collect();
    let mut shapes: Vec<Shape> = Vec::new();
    let mut tries = 0;
    while shapes.len() < n && tries < 400 {
        tries += 1;
        let r = rng.gen_range(size * 0.04..size * 0.13);
        let cx = rng.gen_range(r + 4.0..size - r - 4.0);
        let cy = rng.gen_range(r + 4.0..size - r - 4.0);
        if shapes
            .iter()
            .any(|s| ((s.cx - cx).powi(2) + (s.cy - cy).powi(2)).sqrt() < s.r + r + 6.0)
        {
            continue;
        }
        // Repeat an existing shape kind or colour at times, so that counts above one and
        // colour-qualified questions are common.
        let kind = match shapes.choose(rng) {
            Some(s) if rng.gen_bool(0.25) => s.kind,
            _ => Kind::ALL[rng.gen_range(0..Kind::ALL.len())],
        };
        let colour = match (shapes.choose(rng), palette.choose(rng)) {
            (Some(s), _) if rng.gen_bool(0.2) => s.colour,
            (_, Some(&c)) => c,
            _ => rng.gen_range(0..COLOURS.len()),
        };
        let pts = outline(kind, cx, cy, r, rng);
        shapes.push(Shape {
            kind,
            colour,
            cx,
            cy,
            r,
            pts,
        });
    }
    shapes
}

/// A filter over shapes: by colour, by kind, or both.
#[derive(Debug, Clone, Copy)]
struct Query {
    colour: Option<usize>,
    kind: Option<Kind>,
}

impl Query {
    fn matches(&self, s: &Shape) -> bool {
        self.colour.is_none_or(|c| c == s.colour) && self.kind.is_none_or(|k| k == s.kind)
    }

    /// "red circles", "triangles", "blue shapes".
    fn plural(&self) -> String {
        let noun = self.kind.map_or_else(|| "shapes".to_string(), Kind::plural);
        match self.colour {
            Some(c) => format!("{} {noun}", COLOURS[c].0),
            None => noun,
        }
    }

    fn singular(&self) -> String {
        let noun = self.kind.map_or("shape", Kind::name);
        match self.colour {
            Some(c) => format!("{} {noun}", COLOURS[c].0),
            None => noun.to_string(),
        }
    }

    fn random(shapes: &[Shape], rng: &mut ChaCha8Rng, allow_absent: bool) -> Query {
        let (colour, kind) = match shapes.choose(rng) {
            Some(s) if !(allow_absent && rng.gen_bool(0.15)) => (s.colour, s.kind),
            _ => (
                rng.gen_range(0..COLOURS.len()),
                Kind::ALL[rng.gen_range(0..Kind::ALL.len())],
            ),
        };
        match rng.gen_range(0..3) {
            0 => Query {
                colour: Some(colour),
                kind: Some(kind),
            },
            1 => Query {
                colour: None,
                kind: Some(kind),
            },
            _ => Query {
                colour: Some(colour),
                kind: None,
            },
        }
    }
}

fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn box_text(b: &BBox) -> String {
    format!("[{},{},{},{}]", ipx(b.x1), ipx(b.y1), ipx(b.x2), ipx(b.y2))
}

/// A question with its answer, reference reasoning and name.
struct Question {
    name: &'static str,
    task: Task,
    instruction: String,
    target: Target,
    cot: String,
}

fn detect(shapes: &[Shape], rng: &mut ChaCha8Rng) -> Question {
    let q = Query::random(shapes, rng, false);
    let hits: Vec<&Shape> = shapes.iter().filter(|s| q.matches(s)).collect();
    let boxes: Vec<BBox> = hits.iter().map(|s| s.bbox()).collect();
    let templates = [
        "detect every {s}",
        "find all the {p}",
        "draw a box around each {s}",
        "locate all {p}",
        "detect all {p} in the image",
    ];
    let instruction = templates[rng.gen_range(0..templates.len())]
        .replace("{s}", &q.singular())
        .replace("{p}", &q.plural());
    let listed = join_list(&boxes.iter().map(box_text).collect::<Vec<_>>());
    let cot = if boxes.len() == 1 {
        format!("There is one {}, at {listed}.", q.singular())
    } else {
        format!("There are {} {}, at {listed}.", boxes.len(), q.plural())
    };
    Question {
        name: "detect",
        task: Task::Detect,
        instruction,
        target: Target::Boxes(boxes),
        cot,
    }
}

fn count(shapes: &[Shape], rng: &mut ChaCha8Rng) -> Question {
    let q = Query::random(shapes, rng, true);
    let hits: Vec<String> = shapes
        .iter()
        .filter(|s| q.matches(s))
        .map(Shape::centre_text)
        .collect();
    let templates = [
        "how many {} are there?",
        "count the {}",
        "how many {} are in the image?",
        "what is the number of {}?",
    ];
    let instruction = templates[rng.gen_range(0..templates.len())].replace("{}", &q.plural());
    let cot = match hits.len() {
        0 => format!(
            "There are no {} in the image, so the answer is 0.",
            q.plural()
        ),
        1 => format!(
            "There is a single {} at {}, so the answer is 1.",
            q.singular(),
            hits[0]
        ),
        n => format!(
            "I see {} at {}, so the answer is {n}.",
            q.plural(),
            join_list(&hits)
        ),
    };
    Question {
        name: "count",
        task: Task::Count,
        instruction,
        target: Target::Count(hits.len() as u32),
        cot,
    }
}

/// Classification questions whose answer is unambiguous in this image, if any.
fn classify(shapes: &[Shape], rng: &mut ChaCha8Rng) -> Option<Question> {
    let mut by_area: Vec<&Shape> = shapes.iter().collect();
    by_area.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let mut options: Vec<Question> = Vec::new();
    if by_area.len() >= 2 && by_area[0].area() > 1.3 * by_area[1].area() {
        let s = by_area[0];
        options.push(Question {
            name: "largest_shape",
            task: Task::Classify,
            instruction: [
                "what shape is the largest object?",
                "what is the shape of the biggest object?",
            ][rng.gen_range(0..2)]
            .into(),
            target: Target::Label(s.kind.name().into()),
            cot: format!(
                "The largest object is the {} {} at {}.",
                s.colour_name(),
                s.kind.name(),
                s.centre_text()
            ),
        });
    }
    let n = by_area.len();
    if n >= 2 && by_area[n - 2].area() > 1.3 * by_area[n - 1].area() {
        let s = by_area[n - 1];
        options.push(Question {
            name: "smallest_shape",
            task: Task::Classify,
            instruction: "what shape is the smallest object?".into(),
            target: Target::Label(s.kind.name().into()),
            cot: format!(
                "The smallest object is the {} {} at {}.",
                s.colour_name(),
                s.kind.name(),
                s.centre_text()
            ),
        });
    }
    for s in shapes {
        if shapes.iter().filter(|o| o.kind == s.kind).count() == 1 {
            options.push(Question {
                name: "colour_of_shape",
                task: Task::Classify,
                instruction: format!("what colour is the {}?", s.kind.name()),
                target: Target::Label(s.colour_name().into()),
                cot: format!(
                    "The only {} is at {} and it is {}.",
                    s.kind.name(),
                    s.centre_text(),
                    s.colour_name()
                ),
            });
        }
        if shapes.iter().filter(|o| o.colour == s.colour).count() == 1 {
            options.push(Question {
                name: "shape_of_colour",
                task: Task::Classify,
                instruction: format!("what shape is the {} object?", s.colour_name()),
                target: Target::Label(s.kind.name().into()),
                cot: format!(
                    "The only {} object is at {}; it is a {}.",
                    s.colour_name(),
                    s.centre_text(),
                    s.kind.name()
                ),
            });
        }
    }
    if options.is_empty() {
        return None;
    }
    let i = rng.gen_range(0..options.len());
    Some(options.swap_remove(i))
}

/// Renders one `shapes` sample.
pub(super) fn render(cfg: &ShapesConfig, rng: &mut ChaCha8Rng, id: String) -> Result<Sample> {
    cfg.validate()?;
    let mut img = RgbImage::new(cfg.size, cfg.size);
    let (bg_name, bg) = background(&mut img, rng);
    let shapes = place(cfg, rng, bg);
    for s in &shapes {
        let c = COLOURS[s.colour].1;
        if s.pts.is_empty() {
            fill_circle(&mut img, s.cx, s.cy, s.r, c);
        } else {
            fill_polygon(&mut img, &s.pts, c);
        }
    }
    let question = match rng.gen_range(0..3) {
        0 => detect(&shapes, rng),
        1 => count(&shapes, rng),
        _ => match classify(&shapes, rng) {
            Some(q) => q,
            None => count(&shapes, rng),
        },
    };
    let meta = json!({
        "question": question.name,
        "background": bg_name,
        "size": [cfg.size, cfg.size],
        "shapes": shapes.iter().map(|s| json!({
            "shape": s.kind.name(),
            "colour": s.colour_name(),
            "box": s.bbox(),
            "area": s.area().round(),
        })).collect::<Vec<_>>(),
    });
    let record = Record {
        image: format!("images/{id}.png").into(),
        id,
        depth: None,
        camera: None,
        instruction: question.instruction,
        task: question.task,
        target: question.target,
        cot: Some(question.cot),
        meta: Some(meta),
    };
    Ok(Sample {
        image: img,
        depth: None,
        mask: None,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sample, SuiteKind};

    #[test]
    fn answers_agree_with_the_drawn_shapes() {
        for i in 0..12 {
            let s = sample(SuiteKind::Shapes, 3, i).unwrap();
            let r = &s.record;
            r.validate().unwrap();
            let meta = r.meta.as_ref().unwrap();
            let shapes = meta["shapes"].as_array().unwrap();
            match &r.target {
                Target::Boxes(bs) => {
                    assert!(!bs.is_empty());
                    for b in bs {
                        // Every answer box is one shape's box, and its centre pixel is painted
                        // in a shape colour rather than the background.
                        assert!(shapes.iter().any(|m| serde_json::from_value::<BBox>(
                            m["box"].clone()
                        )
                        .unwrap()
                            == *b));
                    }
                }
                Target::Count(n) => assert!(*n as usize <= shapes.len()),
                Target::Label(l) => assert!(
                    shapes
                        .iter()
                        .any(|m| m["shape"] == **l || m["colour"] == **l),
                    "{l}"
                ),
                t => panic!("unexpected target {t:?}"),
            }
            assert!(r.cot.as_ref().is_some_and(|c| c.ends_with('.')));
        }
    }
}
