//! From dataset records to model inputs: image tensors, prompt ids and target completions.
//!
//! Sequence layout, shared with the ONNX runtime:
//! `[image tokens][<bos> instruction tokens][completion tokens … <eos>]`, where the
//! completion is `<think>…</think><answer>…</answer>` (thinking mode) or `<answer>…</answer>`
//! (direct mode). Coordinates in completions are in the model's answer frame (`norm1000` of
//! the stretched model input), including the `(x,y)` points in reference reasoning.

use std::path::Path;

use reticle_models::dataset::{Record, Target};
use reticle_models::geometry::{BBox, CoordFrame, FrameMap, Mask, Point, ResizeMode};
use reticle_models::grammar::{self, Detection, Mode, Value};
use reticle_models::manifest::{Channels, Preprocess};
use reticle_models::preprocess::{self, DepthRef, Preprocessor};
use reticle_models::tokenizer::TextTokenizer;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// How images and text are prepared; saved with the run and written to the model package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrepConfig {
    /// Answer with reasoning first (`think`) or directly (`direct`).
    pub mode: Mode,
    /// Per-channel mean and std after scaling pixels to 0..1.
    pub mean: f32,
    pub std: f32,
    /// Depth (metres) that maps to 1.0 for RGB-D models.
    pub depth_max_m: f32,
}

impl Default for PrepConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Direct,
            mean: 0.5,
            std: 0.5,
            depth_max_m: 2.0,
        }
    }
}

/// One training example. Pixels stay `u8` (normalised per batch) to keep datasets small.
#[derive(Debug)]
pub struct Example {
    /// Index of the record in the dataset.
    pub index: usize,
    /// `[C, H, W]` uint8; a depth plane (if any) is scaled to 0..255 of `depth_max_m`.
    pub pixels: Tensor,
    /// `<bos>` + instruction tokens.
    pub prompt_ids: Vec<i64>,
    /// Reference completion tokens, ending with `<eos>`.
    pub target_ids: Vec<i64>,
    /// Original image size, to map answers back.
    pub original: (u32, u32),
}

/// Turns records into examples. Holds the tokenizer and the special token ids.
#[derive(Debug)]
pub struct Encoder {
    pub tokenizer: TextTokenizer,
    pub prep: PrepConfig,
    /// Model input `(width, height, channels)`.
    pub input: (u32, u32, usize),
    pub bos: i64,
    pub eos: i64,
    pub pad: i64,
    /// `</answer>`: generation stops after it.
    pub answer_end: i64,
}

/// Texts a tokenizer for our models should be trained on: every instruction, reasoning and
/// label, plus answer strings covering every digit and answer shape.
pub fn tokenizer_corpus(records: &[Record]) -> Vec<String> {
    let mut corpus = Vec::with_capacity(records.len() * 2 + 64);
    for r in records {
        corpus.push(r.instruction.clone());
        if let Some(c) = &r.cot {
            corpus.push(c.clone());
        }
        if let Target::Label(l) = &r.target {
            corpus.push(format!("<answer>{l}</answer>"));
        }
    }
    for i in 0..64u32 {
        corpus.push(format!(
            "<think>at ({},{})</think><answer>({},{}),[{},{},{},{}]</answer> {}",
            i * 13 % 1000,
            i * 29 % 1000,
            i * 31 % 1000,
            i * 7 % 1000,
            i,
            i + 1,
            i + 2,
            i + 3,
            i
        ));
    }
    corpus
}

impl Encoder {
    pub fn new(
        tokenizer: TextTokenizer,
        prep: PrepConfig,
        input: (u32, u32, usize),
    ) -> Result<Self> {
        let id = |t: &str| tokenizer.token_id(t).map(i64::from);
        Ok(Self {
            bos: id("<bos>")?,
            eos: id("<eos>")?,
            pad: id("<pad>")?,
            answer_end: id("</answer>")?,
            tokenizer,
            prep,
            input,
        })
    }

    /// The frame map of an image of size `original` for this model.
    pub fn frame(&self, original: (u32, u32)) -> Result<FrameMap> {
        Ok(FrameMap::new(
            original,
            (self.input.0, self.input.1),
            ResizeMode::Stretch,
            CoordFrame::Norm1000,
        )?)
    }

    /// The preprocessing spec written to the model package; training uses the same one, so
    /// the runtime sees exactly the pixels the model was trained on.
    pub fn preprocess_spec(&self) -> Preprocess {
        preprocess_spec(&self.prep, self.input)
    }

    /// Loads and resizes a record's image (and depth for RGB-D) to `[C, H, W]` uint8 with the
    /// shared `reticle_models::preprocess` code (the runtime's too).
    pub fn pixels(&self, record: &Record) -> Result<(Tensor, (u32, u32))> {
        let bad = |m: String| Error::Example {
            id: record.id.clone(),
            message: m,
        };
        let img = preprocess::open_image(&record.image)?;
        let original = (img.width(), img.height());
        let (w, h, c) = self.input;
        let depth = if c == 4 {
            let path = record
                .depth
                .as_ref()
                .ok_or_else(|| bad("an RGB-D model needs a `depth` image".into()))?;
            Some(reticle_models::imageio::read_depth(path)?)
        } else {
            None
        };
        let scale = record.camera.map_or(0.001, |k| k.depth_scale);
        let depth_ref = match &depth {
            Some(d) => Some(DepthRef::new(d.width(), d.height(), d.as_raw(), scale)?),
            None => None,
        };
        let mut pre = Preprocessor::new(&self.preprocess_spec())?;
        let mut buf = Vec::new();
        pre.planes_from_image(&img, depth_ref, &mut buf)?;
        let planes = Tensor::from_slice(&buf).view([c as i64, i64::from(h), i64::from(w)]);
        Ok((planes, original))
    }

    /// `<bos>` + the instruction's tokens, as plain text (a special token written in an
    /// instruction never becomes a control token; the runtime encodes it the same way).
    pub fn prompt_ids(&self, instruction: &str) -> Result<Vec<i64>> {
        let mut ids = vec![self.bos];
        ids.extend(
            self.tokenizer
                .encode_plain(instruction)?
                .into_iter()
                .map(i64::from),
        );
        Ok(ids)
    }

    /// The reference completion text of a record, in the model's answer frame.
    pub fn target_text(&self, record: &Record, original: (u32, u32)) -> Result<String> {
        target_text(
            record,
            &self.frame(original)?,
            (1000.0, 1000.0),
            self.prep.mode,
        )
    }

    /// Builds the example of `record` (the `index`-th of its dataset).
    pub fn example(&self, index: usize, record: &Record) -> Result<Example> {
        let (pixels, original) = self.pixels(record)?;
        let prompt_ids = self.prompt_ids(&record.instruction)?;
        let text = self.target_text(record, original)?;
        let mut target_ids: Vec<i64> = self
            .tokenizer
            .encode(&text)?
            .into_iter()
            .map(i64::from)
            .collect();
        target_ids.push(self.eos);
        Ok(Example {
            index,
            pixels,
            prompt_ids,
            target_ids,
            original,
        })
    }

    /// Stacks `u8` pixel tensors into a normalised float batch `[B, C, H, W]` on `device`.
    pub fn pixel_batch(&self, pixels: &[&Tensor], device: Device) -> Tensor {
        let batch = Tensor::stack(pixels, 0)
            .to_device(device)
            .to_kind(Kind::Float)
            / 255.0;
        (batch - f64::from(self.prep.mean)) / f64::from(self.prep.std)
    }

    /// Decodes completion tokens to text, stopping at `<eos>` and dropping padding.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        Ok(decode_completion(&self.tokenizer, ids, self.eos, self.pad)?)
    }
}

pub use reticle_models::tokenizer::decode_completion;

/// The preprocessing spec of a model with input `(width, height, channels)`: what the model
/// package declares and what training feeds.
pub fn preprocess_spec(prep: &PrepConfig, input: (u32, u32, usize)) -> Preprocess {
    let (width, height, c) = input;
    Preprocess {
        width,
        height,
        resize: ResizeMode::Stretch,
        channels: if c == 4 {
            Channels::Rgbd
        } else {
            Channels::Rgb
        },
        mean: vec![prep.mean; c],
        std: vec![prep.std; c],
        depth_max_m: (c == 4).then_some(prep.depth_max_m),
    }
}

/// The reference completion text of `record` in the answer frame of `frame`, coordinates
/// rounded and clamped to `0..=max` (`(1000, 1000)` for `norm1000`, the model input's size for
/// a pixel frame), with reference reasoning in `Mode::Think`.
pub fn target_text(
    record: &Record,
    frame: &FrameMap,
    max: (f64, f64),
    mode: Mode,
) -> Result<String> {
    let to_answer = |p: Point| round_point(frame.original_to_answer(p), max);
    let value = match &record.target {
        Target::Box(b) => match record.task {
            reticle_models::dataset::Task::Detect => Value::Boxes(vec![Detection {
                bbox: round_box(frame.box_original_to_answer(b), max),
                confidence: None,
            }]),
            _ => Value::Points(vec![to_answer(b.center())]),
        },
        Target::Boxes(bs) => Value::Boxes(
            bs.iter()
                .map(|b| Detection {
                    bbox: round_box(frame.box_original_to_answer(b), max),
                    confidence: None,
                })
                .collect(),
        ),
        Target::Point(p) => Value::Points(vec![to_answer(*p)]),
        Target::Mask(path) => Value::Points(vec![to_answer(mask_point(path, &record.id)?)]),
        Target::Label(l) => Value::Label(l.clone()),
        Target::Count(n) => Value::Count(*n),
    };
    let think = match mode {
        Mode::Think => Some(map_coordinates(
            record.cot.as_deref().unwrap_or("I look for the target."),
            &|p| to_answer(p),
        )),
        Mode::Direct => None,
    };
    Ok(grammar::format_answer(mode, think.as_deref(), &value))
}

fn round_point(p: Point, max: (f64, f64)) -> Point {
    Point::new(p.x.round().clamp(0.0, max.0), p.y.round().clamp(0.0, max.1))
}

fn round_box(b: BBox, max: (f64, f64)) -> BBox {
    BBox::new(
        b.x1.round().clamp(0.0, max.0),
        b.y1.round().clamp(0.0, max.1),
        b.x2.round().clamp(0.0, max.0),
        b.y2.round().clamp(0.0, max.1),
    )
}

/// A point inside a mask: the centre of the inside pixel nearest the centroid (the centroid
/// itself can fall outside a non-convex region such as free space between two objects).
pub fn mask_point(path: &Path, id: &str) -> Result<Point> {
    let mask = Mask::load(path)?;
    let c = mask.centroid().ok_or_else(|| Error::Example {
        id: id.to_string(),
        message: format!("mask {} is empty", path.display()),
    })?;
    if mask.contains(&c) {
        return Ok(Point::new(c.x.floor() + 0.5, c.y.floor() + 0.5));
    }
    let mut best = (f64::INFINITY, c);
    for y in 0..mask.height() {
        for x in 0..mask.width() {
            if mask.get(x, y) {
                let p = Point::new(x as f64 + 0.5, y as f64 + 0.5);
                let d = p.distance(&c);
                if d < best.0 {
                    best = (d, p);
                }
            }
        }
    }
    Ok(best.1)
}

/// Rewrites every `(x,y)` point and `[x1,y1,x2,y2]` box written in `text` with `f`.
pub fn map_coordinates(text: &str, f: &dyn Fn(Point) -> Point) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['(', '[']) {
        out.push_str(&rest[..start]);
        let open = rest.as_bytes()[start];
        let close = if open == b'(' { ')' } else { ']' };
        let tail = &rest[start + 1..];
        let nums: Option<Vec<f64>> = tail.find(close).and_then(|end| {
            tail[..end]
                .split(',')
                .map(|s| s.trim().parse::<f64>().ok())
                .collect()
        });
        match (open, nums) {
            (b'(', Some(n)) if n.len() == 2 => {
                let p = f(Point::new(n[0], n[1]));
                out.push_str(&format!("({},{})", p.x, p.y));
            }
            (b'[', Some(n)) if n.len() == 4 => {
                let a = f(Point::new(n[0], n[1]));
                let b = f(Point::new(n[2], n[3]));
                out.push_str(&format!("[{},{},{},{}]", a.x, a.y, b.x, b.y));
            }
            _ => {
                out.push(open as char);
                rest = tail;
                continue;
            }
        }
        let end = tail.find(close).map_or(tail.len(), |e| e + 1);
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_in_reasoning_are_mapped() {
        let f = |p: Point| Point::new(p.x / 2.0, p.y / 2.0);
        assert_eq!(
            map_coordinates(
                "The cube is at (200,100). Box [2,4,6,8] and (x,y) stay.",
                &f
            ),
            "The cube is at (100,50). Box [1,2,3,4] and (x,y) stay."
        );
        assert_eq!(map_coordinates("no numbers (here", &f), "no numbers (here");
    }
}
