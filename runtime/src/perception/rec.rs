//! Text recognition: crops resized to height 48, batched by width, greedy CTC decoding, and
//! word boxes from the time steps at which each character was emitted.

use std::path::Path;

use fast_image_resize as fr;
use ort::session::Session;
use ort::value::TensorRef;
use reticle_models::geometry::BBox;
use reticle_models::text::Word;

use super::det::LineBox;
use super::frame::RgbFrame;
use crate::error::{Error, Result};
use reticle_models::text::OcrConfig;

const INPUT: &str = "x";
const OUTPUT: &str = "fetch_name_0";
/// The recogniser's input height (PaddleOCR `rec_image_shape`).
pub(crate) const HEIGHT: u32 = 48;

/// One recognised line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Recognized {
    pub text: String,
    pub score: f32,
    pub words: Vec<Word>,
}

/// The recognition session, its character table and reused buffers.
#[derive(Debug)]
pub(crate) struct Recognizer {
    session: Session,
    /// Index 0 is the CTC blank, the last entry the space (PaddleOCR's table layout).
    charset: Vec<String>,
    resizer: fr::Resizer,
    crop: Vec<u8>,
    batch: Vec<f32>,
}

impl Recognizer {
    pub fn new(session: Session, path: &Path) -> Result<Self> {
        super::reader::check_io(&session, path, INPUT, OUTPUT)?;
        let table = session.metadata()?.custom("character").ok_or_else(|| {
            Error::Ocr(format!(
                "{}: no `character` table in the model metadata (not a PaddleOCR \
                     recognition graph?)",
                path.display()
            ))
        })?;
        let mut charset = vec![String::new()];
        charset.extend(table.split('\n').map(str::to_string));
        charset.push(" ".to_string());
        Ok(Self {
            session,
            charset,
            resizer: fr::Resizer::new(),
            crop: Vec::new(),
            batch: Vec::new(),
        })
    }

    /// Recognises every box; the result is in the order of `boxes`.
    pub fn recognize(
        &mut self,
        frame: &RgbFrame,
        boxes: &[LineBox],
        cfg: &OcrConfig,
    ) -> Result<Vec<Recognized>> {
        let widths: Vec<u32> = boxes.iter().map(|b| resized_width(b, cfg)).collect();
        let buckets: Vec<u32> = widths.iter().map(|&w| bucket(w, cfg)).collect();
        let mut order: Vec<usize> = (0..boxes.len()).collect();
        order.sort_by_key(|&i| (buckets[i], widths[i]));
        let mut out = vec![None; boxes.len()];
        // Crops are padded to their width bucket and batched only with crops of the same
        // bucket: padding stays small, and a crop reads the same whichever crops it is read
        // with (an incremental read recognises fewer crops than a cold one).
        let mut start = 0;
        while start < order.len() {
            let padded = buckets[order[start]];
            let mut end = start + 1;
            while end < order.len() && end - start < cfg.rec_batch && buckets[order[end]] == padded
            {
                end += 1;
            }
            let idx = &order[start..end];
            for (slot, r) in self
                .run_batch(frame, boxes, &widths, idx, padded)?
                .into_iter()
                .enumerate()
            {
                out[idx[slot]] = Some(r);
            }
            start = end;
        }
        Ok(out.into_iter().flatten().collect())
    }

    fn run_batch(
        &mut self,
        frame: &RgbFrame,
        boxes: &[LineBox],
        widths: &[u32],
        idx: &[usize],
        padded: u32,
    ) -> Result<Vec<Recognized>> {
        let (pw, h) = (padded as usize, HEIGHT as usize);
        let plane = pw * h;
        self.batch.clear();
        self.batch.resize(idx.len() * 3 * plane, 0.0);
        for (slot, &i) in idx.iter().enumerate() {
            let rw = widths[i];
            self.resize_crop(frame, &boxes[i], rw)?;
            let base = slot * 3 * plane;
            let rwu = rw as usize;
            for y in 0..h {
                for x in 0..rwu {
                    let px = &self.crop[(y * rwu + x) * 3..(y * rwu + x) * 3 + 3];
                    // BGR planes, (v / 255 − 0.5) / 0.5; the padding stays 0.
                    self.batch[base + y * pw + x] = f32::from(px[2]) / 127.5 - 1.0;
                    self.batch[base + plane + y * pw + x] = f32::from(px[1]) / 127.5 - 1.0;
                    self.batch[base + 2 * plane + y * pw + x] = f32::from(px[0]) / 127.5 - 1.0;
                }
            }
        }
        let shape = [idx.len(), 3, h, pw];
        let input = TensorRef::from_array_view((shape, &self.batch[..]))?;
        let outputs = self.session.run(ort::inputs![INPUT => input])?;
        let (shape, probs) = outputs[OUTPUT].try_extract_tensor::<f32>()?;
        let bad = |message: String| Error::Output {
            graph: "OCR recogniser",
            message,
        };
        if shape.len() != 3 || shape[0] != idx.len() as i64 || shape[2] != self.charset.len() as i64
        {
            return Err(bad(format!(
                "output has shape {shape}, expected [{}, T, {}] (the character table has {} \
                 entries with blank and space)",
                idx.len(),
                self.charset.len(),
                self.charset.len()
            )));
        }
        let (steps, classes) = (shape[1] as usize, shape[2] as usize);
        let mut out = Vec::with_capacity(idx.len());
        for (slot, &i) in idx.iter().enumerate() {
            let p = &probs[slot * steps * classes..(slot + 1) * steps * classes];
            let step_px = padded as f32 / steps as f32;
            out.push(decode(
                &self.charset,
                p,
                classes,
                &boxes[i],
                widths[i],
                step_px,
            ));
        }
        Ok(out)
    }

    /// Resizes the box's crop of `frame` to `rw × 48` RGB into `self.crop`.
    fn resize_crop(&mut self, frame: &RgbFrame, b: &LineBox, rw: u32) -> Result<()> {
        let resize_err = |e: String| Error::invalid("image", format!("resize failed: {e}"));
        self.crop.clear();
        self.crop.resize(rw as usize * HEIGHT as usize * 3, 0);
        let src =
            fr::images::ImageRef::new(frame.width, frame.height, &frame.data, fr::PixelType::U8x3)
                .map_err(|e| resize_err(e.to_string()))?;
        let mut dst =
            fr::images::Image::from_slice_u8(rw, HEIGHT, &mut self.crop, fr::PixelType::U8x3)
                .map_err(|e| resize_err(e.to_string()))?;
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .crop(
                f64::from(b.x1),
                f64::from(b.y1),
                f64::from(b.x2 - b.x1),
                f64::from(b.y2 - b.y1),
            );
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| resize_err(e.to_string()))
    }
}

/// Greedy CTC over `[steps, classes]` probabilities, with word boxes.
fn decode(
    charset: &[String],
    probs: &[f32],
    classes: usize,
    b: &LineBox,
    rw: u32,
    step_px: f32,
) -> Recognized {
    let mut chars: Vec<(usize, usize)> = Vec::new(); // (class, step)
    let mut confs = Vec::new();
    let mut prev = usize::MAX;
    for (t, row) in probs.chunks_exact(classes).enumerate() {
        let (best, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |acc, (c, &v)| if v > acc.1 { (c, v) } else { acc },
            );
        if best != 0 && best != prev {
            chars.push((best, t));
            confs.push(p);
        }
        prev = best;
    }
    let n_bytes: usize = chars.iter().map(|&(c, _)| charset[c].len()).sum();
    let score = if confs.is_empty() {
        0.0
    } else {
        confs.iter().sum::<f32>() / confs.len() as f32
    };
    // Original pixels per time step: resized pixels per step × original / resized.
    let px = step_px * (b.x2 - b.x1) / rw as f32;
    let center = |t: usize| b.x1 + (t as f32 + 0.5) * px;
    let mut words = Vec::new();
    let mut run: Vec<(usize, usize)> = Vec::new();
    let flush = |run: &mut Vec<(usize, usize)>, words: &mut Vec<Word>| {
        if run.is_empty() {
            return;
        }
        let (first, last) = (run[0].1, run[run.len() - 1].1);
        // Characters are emitted near their centres; half a character's pitch on
        // either side covers the glyphs.
        let pitch = if run.len() > 1 {
            (last - first) as f32 / (run.len() - 1) as f32
        } else {
            2.0
        };
        let x1 = (center(first) - 0.6 * pitch * px).max(b.x1);
        let x2 = (center(last) + 0.6 * pitch * px).min(b.x2);
        words.push(Word {
            text: run.iter().map(|&(c, _)| charset[c].as_str()).collect(),
            bbox: BBox::new(
                f64::from(x1),
                f64::from(b.y1),
                f64::from(x2),
                f64::from(b.y2),
            ),
        });
        run.clear();
    };
    // A gap between two characters much wider than the line's usual pitch is a word break
    // the recogniser wrote no space for (two adjacent buttons detected as one line:
    // "CancelOK"); the line's text gets the space too.
    let pitch = median_pitch(&chars, charset);
    let mut text = String::with_capacity(n_bytes + 4);
    let mut prev_step: Option<usize> = None;
    for &(c, t) in &chars {
        if charset[c].trim().is_empty() {
            flush(&mut run, &mut words);
            prev_step = None;
            text.push_str(&charset[c]);
            continue;
        }
        if let Some(p) = prev_step {
            let gap = (t - p) as f32;
            if !run.is_empty() && gap >= 4.0 && gap > GAP_BREAK * pitch {
                flush(&mut run, &mut words);
                text.push(' ');
            }
        }
        run.push((c, t));
        prev_step = Some(t);
        text.push_str(&charset[c]);
    }
    flush(&mut run, &mut words);
    Recognized { text, score, words }
}

/// How many times the median character pitch a gap must be to break a word.
const GAP_BREAK: f32 = 2.2;

/// The median distance, in time steps, between consecutive characters of the same word.
fn median_pitch(chars: &[(usize, usize)], charset: &[String]) -> f32 {
    let mut d: Vec<usize> = chars
        .windows(2)
        .filter(|w| !charset[w[0].0].trim().is_empty() && !charset[w[1].0].trim().is_empty())
        .map(|w| w[1].1 - w[0].1)
        .collect();
    if d.is_empty() {
        return 2.0;
    }
    d.sort_unstable();
    d[d.len() / 2] as f32
}

/// The padded input width of a crop `w` wide: the next step of a ladder growing by about a
/// quarter (48, 64, 80, 96, 128, 160, 192, 256, …, multiples of 16), at least `rec_min_width`.
fn bucket(w: u32, cfg: &OcrConfig) -> u32 {
    let mut b = cfg.rec_min_width.max(16).div_ceil(16) * 16;
    while b < w {
        b = (b + (b / 4).max(16)).div_ceil(16) * 16;
    }
    b.min(cfg.rec_max_width.max(w))
}

/// The crop's width after resizing to height 48 with its aspect ratio kept.
fn resized_width(b: &LineBox, cfg: &OcrConfig) -> u32 {
    let (w, h) = ((b.x2 - b.x1).max(1.0), (b.y2 - b.y1).max(1.0));
    ((HEIGHT as f32 * w / h).ceil() as u32).clamp(8, cfg.rec_max_width)
}
