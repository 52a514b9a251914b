//! Records → pointer examples: the image at the model's input size, the text inputs of
//! `reticle_models::pointer` (from the spans `reticle data perceive` read, or the labels a
//! synthetic screen drew when a dataset has no spans file), and the SFT targets (GUI-Actor's
//! uniform distribution over the candidates inside the target, click offsets, the anchor).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use reticle_models::dataset::{Record, Target};
use reticle_models::geometry::{BBox, Mask, Point};
use reticle_models::pointer::{self as contract, TextCandidate, TextInputs};
use reticle_models::text::{SpansRecord, TextSpan, Word};
use tch::{Device, Kind, Tensor};

use crate::data::{mask_point, preprocess_spec, PrepConfig};
use crate::error::{Error, Result};
use crate::model::pointer::{PointerBatch, PointerConfig};

/// The spans file `reticle data perceive` writes inside a dataset folder.
pub const SPANS_FILE: &str = "spans.jsonl";

/// Spans per image (absolute path), from the `spans.jsonl` of every dataset that has one.
#[derive(Debug, Default)]
pub struct SpanIndex {
    by_image: HashMap<PathBuf, Vec<TextSpan>>,
}

impl SpanIndex {
    /// Reads `DIR/spans.jsonl` of each dataset folder in `paths` that has one.
    pub fn load(paths: &[PathBuf]) -> Result<Self> {
        let mut by_image = HashMap::new();
        for dir in paths {
            let file = if dir.is_dir() {
                dir.join(SPANS_FILE)
            } else {
                dir.with_file_name(SPANS_FILE)
            };
            if !file.is_file() {
                continue;
            }
            let base = file.parent().unwrap_or(Path::new("."));
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let rec: SpansRecord = serde_json::from_str(line)
                    .map_err(|e| Error::Config(format!("{}:{}: {e}", file.display(), n + 1)))?;
                by_image.insert(base.join(&rec.image), rec.spans);
            }
            tracing::info!(file = %file.display(), "read text spans");
        }
        Ok(Self { by_image })
    }

    pub fn get(&self, image: &Path) -> Option<&[TextSpan]> {
        self.by_image.get(image).map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.by_image.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_image.is_empty()
    }
}

/// The labels a synthetic `ui` screen drew (`meta.texts`) as spans, words boxed in
/// proportion to their characters; boxes jittered by up to `jitter` pixels (the reader's
/// boxes are not the drawn ink boxes).
pub fn drawn_spans(record: &Record, jitter: f64, seed: u64) -> Vec<TextSpan> {
    let Some(texts) = record
        .meta
        .as_ref()
        .and_then(|m| m.get("texts"))
        .and_then(|t| t.as_array())
    else {
        return Vec::new();
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for t in texts {
        let (Some(text), Some(b)) = (
            t.get("text").and_then(|v| v.as_str()),
            t.get("box")
                .and_then(|v| serde_json::from_value::<BBox>(v.clone()).ok()),
        ) else {
            continue;
        };
        let mut j = || rng.gen_range(-jitter..=jitter);
        let b = BBox::new(
            b.x1 + j() - 2.0,
            b.y1 + j() - 2.0,
            b.x2 + j() + 2.0,
            b.y2 + j() + 2.0,
        );
        let n_chars = text.chars().count().max(1) as f64;
        let mut words = Vec::new();
        let mut pos = 0usize;
        for w in text.split(' ') {
            let len = w.chars().count();
            if len > 0 {
                let x1 = b.x1 + b.width() * pos as f64 / n_chars;
                let x2 = b.x1 + b.width() * (pos + len) as f64 / n_chars;
                words.push(Word {
                    text: w.to_string(),
                    bbox: BBox::new(x1, b.y1, x2, b.y2),
                });
            }
            pos += len + 1;
        }
        out.push(TextSpan {
            icon: None,
            text: text.to_string(),
            bbox: b,
            score: 1.0,
            words,
        });
    }
    out
}

/// One encoded record.
#[derive(Debug)]
pub struct PointerExample {
    pub index: usize,
    /// `[C, H, W]` uint8 at the model's input size, compressed (see [`Planes`]).
    pub pixels: Planes,
    pub text: TextInputs,
    /// `[P + S]` (`[P + S + 1]` with the nothing head): the SFT target distribution (uniform
    /// over the candidates inside the target; all on the last slot for a record naming nothing).
    pub target: Vec<f32>,
    /// `[P, 2]`: where inside each target patch the target point is, in cells.
    pub offset_target: Vec<f32>,
    /// `[P]`: 1 for the patches whose offset is trained.
    pub offset_mask: Vec<f32>,
    /// `[P]`: the anchor distribution, for records with `meta.anchor`.
    pub anchor: Option<Vec<f32>>,
    pub original: (u32, u32),
}

/// A frame's `[C, H, W]` uint8 input planes, kept zstd-compressed in memory. A run holds
/// every training example at once, and the planes are most of one (768 KB of RGB at
/// 640×400); synthetic screens are flat colour and shrink several-fold, so a stage's
/// memory no longer grows by ~0.9 MB per record. Unpacked per batch ([`PointerEncoder::batch`]).
#[derive(Debug)]
pub struct Planes {
    shape: [usize; 3],
    packed: Vec<u8>,
}

impl Planes {
    /// zstd's fastest level: packing is a small share of encoding (image decode and resize
    /// dominate), and unpacking a batch costs milliseconds against a step of a second.
    const LEVEL: i32 = 1;

    /// Packs `raw` (`C·H·W` bytes, planar).
    pub fn pack(raw: &[u8], shape: [usize; 3]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if raw.len() != n {
            return Err(Error::Config(format!(
                "input planes hold {} bytes, {shape:?} needs {n}",
                raw.len()
            )));
        }
        let packed = zstd::bulk::compress(raw, Self::LEVEL)
            .map_err(|e| Error::Config(format!("compressing input planes: {e}")))?;
        Ok(Planes { shape, packed })
    }

    /// The bytes held in memory.
    pub fn packed_len(&self) -> usize {
        self.packed.len()
    }

    /// The planes as a `[C, H, W]` uint8 tensor.
    pub fn tensor(&self) -> Result<Tensor> {
        let n: usize = self.shape.iter().product();
        let raw = zstd::bulk::decompress(&self.packed, n)
            .map_err(|e| Error::Config(format!("unpacking input planes: {e}")))?;
        let shape = self.shape.map(|d| d as i64);
        Ok(Tensor::from_slice(&raw).view(shape))
    }
}

/// The target region of a record in original pixels.
#[derive(Debug)]
pub enum Region {
    Box(BBox),
    Mask(Mask),
    Point(Point),
    /// The instruction names nothing on the image (`{"boxes": []}`): every click misses.
    Nothing,
}

impl Region {
    pub fn of(record: &Record) -> Result<Self> {
        if record.names_nothing() {
            return Ok(Region::Nothing);
        }
        Ok(match &record.target {
            Target::Box(b) => Region::Box(*b),
            Target::Point(p) => Region::Point(*p),
            Target::Mask(path) => Region::Mask(Mask::load(path)?),
            other => {
                return Err(Error::Example {
                    id: record.id.clone(),
                    message: format!(
                        "the pointer policy points; target {other:?} is not a box, point or mask"
                    ),
                })
            }
        })
    }

    /// Whether a click at `p` hits (a point target: within 14 px).
    pub fn hit(&self, p: Point) -> bool {
        match self {
            Region::Box(b) => b.contains(&p),
            Region::Mask(m) => m.contains(&p),
            Region::Point(t) => ((t.x - p.x).powi(2) + (t.y - p.y).powi(2)).sqrt() <= 14.0,
            Region::Nothing => false,
        }
    }
}

fn point_in_mask(m: &Mask, p: Point) -> bool {
    m.contains(&p)
}

/// Builds the examples of the pointer policy.
#[derive(Debug, Clone)]
pub struct PointerEncoder {
    pub cfg: PointerConfig,
    pub prep: PrepConfig,
}

impl PointerEncoder {
    pub fn new(cfg: PointerConfig, prep: PrepConfig) -> Self {
        Self { cfg, prep }
    }

    pub fn input(&self) -> (u32, u32) {
        (self.cfg.image_width, self.cfg.image_height)
    }

    /// The input planes and the candidates' inputs of `record` over the text `spans`
    /// ([`contract::frame_inputs`], as the runtime builds them on the frame it grounds in),
    /// and the original size.
    fn frame(
        &self,
        record: &Record,
        spans: &[TextSpan],
    ) -> Result<(Planes, TextInputs, (u32, u32))> {
        use reticle_models::preprocess::{self, DepthRef, Preprocessor};
        let img = preprocess::open_image(&record.image)?;
        let original = (img.width(), img.height());
        let text =
            contract::frame_inputs(&record.instruction, spans, original, &self.cfg.text, || {
                Ok::<_, Error>(reticle_models::elements::Components::find(&img.to_rgb8()))
            })?;
        let (w, h) = self.input();
        let c = self.cfg.channels;
        let depth = if c == 4 {
            let path = record.depth.as_ref().ok_or_else(|| Error::Example {
                id: record.id.clone(),
                message: "an RGB-D pointer needs a `depth` image".into(),
            })?;
            Some(reticle_models::imageio::read_depth(path)?)
        } else {
            None
        };
        let scale = record.camera.map_or(0.001, |k| k.depth_scale);
        let depth_ref = match &depth {
            Some(d) => Some(DepthRef::new(d.width(), d.height(), d.as_raw(), scale)?),
            None => None,
        };
        let spec = preprocess_spec(&self.prep, (w, h, c));
        let mut pre = Preprocessor::new(&spec)?;
        let mut buf = Vec::new();
        pre.planes_from_image(&img, depth_ref, &mut buf)?;
        Ok((
            Planes::pack(&buf, [c, h as usize, w as usize])?,
            text,
            original,
        ))
    }

    /// The spans the policy sees for `record`: the perceived ones, else the drawn labels.
    pub fn spans_for(&self, record: &Record, index: &SpanIndex, seed: u64) -> Vec<TextSpan> {
        match index.get(&record.image) {
            Some(s) => s.to_vec(),
            None => drawn_spans(record, 2.0, seed),
        }
    }

    /// Encodes `record` (the `index`-th).
    pub fn example(
        &self,
        index: usize,
        record: &Record,
        spans: &[TextSpan],
    ) -> Result<PointerExample> {
        let (pixels, text, original) = self.frame(record, spans)?;
        let region = Region::of(record)?;
        let (target, offset_target, offset_mask) =
            self.targets(&region, record, &text.candidates, original)?;
        let anchor = self.anchor(record, original);
        Ok(PointerExample {
            index,
            pixels,
            text,
            target,
            offset_target,
            offset_mask,
            anchor,
            original,
        })
    }

    fn patch_center(&self, i: usize, original: (u32, u32)) -> Point {
        contract::patch_center(i, self.cfg.grid(), self.cfg.cell, self.input(), original)
    }

    /// The patch whose cell holds `p` (original pixels).
    fn patch_at(&self, p: Point, original: (u32, u32)) -> usize {
        let (cols, rows) = self.cfg.grid();
        let cx = (p.x / f64::from(original.0) * cols as f64)
            .floor()
            .clamp(0.0, cols as f64 - 1.0) as usize;
        let cy = (p.y / f64::from(original.1) * rows as f64)
            .floor()
            .clamp(0.0, rows as f64 - 1.0) as usize;
        cy * cols + cx
    }

    #[allow(clippy::type_complexity)]
    fn targets(
        &self,
        region: &Region,
        record: &Record,
        text: &[TextCandidate],
        original: (u32, u32),
    ) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let p = self.cfg.patches();
        let s = self.cfg.text.max_candidates;
        let n = p + s + usize::from(self.cfg.nothing);
        let mut w = vec![0f32; n];
        let (aim, inside): (Point, Box<dyn Fn(Point) -> bool + '_>) = match region {
            Region::Nothing if self.cfg.nothing => {
                // All the mass on the last logit, "nothing here"; no click offset to learn.
                w[n - 1] = 1.0;
                return Ok((w, vec![0f32; p * 2], vec![0f32; p]));
            }
            Region::Nothing => {
                return Err(Error::Example {
                    id: record.id.clone(),
                    message: "the record names nothing (target `{\"boxes\": []}`) but the model \
                              has no nothing head: set `[model.overrides] nothing = true`"
                        .into(),
                })
            }
            Region::Box(b) => (b.center(), Box::new(move |q: Point| b.contains(&q))),
            Region::Point(t) => {
                let t = *t;
                (
                    t,
                    Box::new(move |q: Point| {
                        ((t.x - q.x).powi(2) + (t.y - q.y).powi(2)).sqrt() <= 14.0
                    }),
                )
            }
            Region::Mask(m) => {
                let path = match &record.target {
                    Target::Mask(path) => path.clone(),
                    _ => unreachable!("a mask region comes from a mask target"),
                };
                (
                    mask_point(&path, &record.id)?,
                    Box::new(move |q: Point| point_in_mask(m, q)),
                )
            }
        };
        for (i, wi) in w.iter_mut().enumerate().take(p) {
            if inside(self.patch_center(i, original)) {
                *wi = 1.0;
            }
        }
        if w[..p].iter().all(|&v| v == 0.0) {
            w[self.patch_at(aim, original)] = 1.0;
        }
        let mut offset_mask = vec![0f32; p];
        let mut offset_target = vec![0f32; p * 2];
        let (sx, sy) = (
            f64::from(original.0) / f64::from(self.cfg.image_width),
            f64::from(original.1) / f64::from(self.cfg.image_height),
        );
        let cell = f64::from(self.cfg.cell);
        for i in 0..p {
            if w[i] > 0.0 {
                let c = self.patch_center(i, original);
                offset_mask[i] = 1.0;
                offset_target[i * 2] = ((aim.x - c.x) / sx / cell).clamp(-1.0, 1.0) as f32;
                offset_target[i * 2 + 1] = ((aim.y - c.y) / sy / cell).clamp(-1.0, 1.0) as f32;
            }
        }
        for (k, c) in text.iter().enumerate() {
            if inside(c.bbox.center()) {
                w[p + k] = 1.0;
            }
        }
        let total: f32 = w.iter().sum();
        for v in &mut w {
            *v /= total;
        }
        Ok((w, offset_target, offset_mask))
    }

    /// The anchor distribution: uniform over the patches inside the anchor object's box; for
    /// "between A and B" (`meta.anchors` lists both) each object gets half the mass.
    fn anchor(&self, record: &Record, original: (u32, u32)) -> Option<Vec<f32>> {
        let meta = record.meta.as_ref()?;
        let objects = meta.get("objects")?.as_array()?;
        let ids: Vec<usize> = match meta.get("anchors").and_then(|a| a.as_array()) {
            Some(list) => list
                .iter()
                .map(|v| v.as_u64().map(|i| i as usize))
                .collect::<Option<_>>()?,
            None => vec![meta.get("anchor")?.as_u64()? as usize],
        };
        let p = self.cfg.patches();
        let mut a = vec![0.0f32; p];
        for idx in ids {
            let b: BBox = serde_json::from_value(objects.get(idx)?.get("box")?.clone()).ok()?;
            let mut one: Vec<f32> = (0..p)
                .map(|i| f32::from(u8::from(b.contains(&self.patch_center(i, original)))))
                .collect();
            if one.iter().all(|&v| v == 0.0) {
                one[self.patch_at(b.center(), original)] = 1.0;
            }
            let total: f32 = one.iter().sum();
            for (s, v) in a.iter_mut().zip(one) {
                *s += v / total;
            }
        }
        let total: f32 = a.iter().sum();
        if total <= 0.0 {
            return None;
        }
        a.iter_mut().for_each(|v| *v /= total);
        Some(a)
    }

    /// Stacks examples into a float batch on `device`.
    pub fn batch(&self, examples: &[&PointerExample], device: Device) -> Result<PointerBatch> {
        let t = &self.cfg.text;
        let b = examples.len() as i64;
        let (lw, kw, s, ks) = (
            t.max_words as i64,
            t.pieces_per_word as i64,
            t.max_candidates as i64,
            t.pieces_per_span as i64,
        );
        let px = examples
            .iter()
            .map(|e| e.pixels.tensor())
            .collect::<Result<Vec<_>>>()?;
        let pixels = (Tensor::stack(&px, 0).to_device(device).to_kind(Kind::Float) / 255.0
            - f64::from(self.prep.mean))
            / f64::from(self.prep.std);
        let cat_i = |f: &dyn Fn(&TextInputs) -> &[i64], shape: &[i64]| {
            let v: Vec<i64> = examples
                .iter()
                .flat_map(|e| f(&e.text).iter().copied())
                .collect();
            Tensor::from_slice(&v).view(shape).to_device(device)
        };
        let cat_f = |f: &dyn Fn(&TextInputs) -> &[f32], shape: &[i64]| {
            let v: Vec<f32> = examples
                .iter()
                .flat_map(|e| f(&e.text).iter().copied())
                .collect();
            Tensor::from_slice(&v).view(shape).to_device(device)
        };
        Ok(PointerBatch {
            pixels,
            instr_ids: cat_i(&|t| &t.instr_ids, &[b, lw, kw]),
            instr_mask: cat_f(&|t| &t.instr_mask, &[b, lw, kw]),
            span_ids: cat_i(&|t| &t.span_ids, &[b, s, ks]),
            span_mask: cat_f(&|t| &t.span_mask, &[b, s, ks]),
            span_boxes: cat_f(&|t| &t.span_boxes, &[b, s, 4]),
            span_feats: cat_f(&|t| &t.span_feats, &[b, s, contract::LEX_FEATURES as i64]),
            span_valid: cat_f(&|t| &t.span_valid, &[b, s]),
        })
    }

    /// The greedy click for example `e` given the pointer distribution `probs` (the
    /// runtime's rule, `reticle_models::pointer::select`).
    pub fn select(
        &self,
        e: &PointerExample,
        probs: &[f32],
        offsets: &[f32],
    ) -> Option<contract::Selection> {
        let live = self.cfg.patches() + e.text.candidates.len();
        contract::select(
            &probs[..live.min(probs.len())],
            offsets,
            self.cfg.grid(),
            self.cfg.cell,
            self.input(),
            e.original,
            &e.text.candidates,
        )
    }

    /// Whether logit `index` is the nothing head's (the last, after every candidate slot).
    pub fn is_nothing_slot(&self, index: usize) -> bool {
        self.cfg.nothing && index == self.cfg.patches() + self.cfg.text.max_candidates
    }

    /// The probability of "nothing here" in `probs` (0 without the nothing head).
    pub fn nothing_probability(&self, probs: &[f32]) -> f32 {
        if self.cfg.nothing {
            probs.last().copied().unwrap_or(0.0)
        } else {
            0.0
        }
    }

    /// The click of candidate `index` for example `e`, in original pixels.
    pub fn click(&self, e: &PointerExample, index: usize, offsets: &[f32]) -> Option<Point> {
        contract::click_point(
            index,
            offsets,
            self.cfg.grid(),
            self.cfg.cell,
            self.input(),
            e.original,
            &e.text.candidates,
        )
    }
}
