//! Text detection: the DB probability map of PP-OCR and its post-processing into line boxes.

use std::path::Path;

use fast_image_resize as fr;
use ort::session::Session;
use ort::value::TensorRef;

use super::frame::RgbFrame;
use crate::error::{Error, Result};
use reticle_models::text::OcrConfig;

/// The detector's input and output names (PaddleOCR's ONNX export).
const INPUT: &str = "x";
const OUTPUT: &str = "fetch_name_0";

/// A rectangle of the original image, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Region {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Region {
    /// The part of the frame worth detecting on: the bounding box of every 32-pixel tile that
    /// is not a flat colour, grown by one tile. A dialog in the middle of a plain desktop is
    /// detected on its own — faster, and the detector (whose blocks pool over the whole
    /// input) no longer drowns small text in a sea of background. `None` when the whole
    /// frame is flat (nothing to read).
    pub fn content(frame: &RgbFrame) -> Option<Self> {
        const T: usize = 32;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let (gw, gh) = (w.div_ceil(T), h.div_ceil(T));
        let mut flat = vec![true; gw * gh];
        let mut first = vec![[0u8; 3]; gw * gh];
        let mut seen = vec![false; gw * gh];
        for y in 0..h {
            let row = &frame.data[y * w * 3..(y + 1) * w * 3];
            for (x, px) in row.chunks_exact(3).enumerate() {
                let t = (y / T) * gw + x / T;
                if !flat[t] {
                    continue;
                }
                let p = [px[0], px[1], px[2]];
                if !seen[t] {
                    seen[t] = true;
                    first[t] = p;
                } else if p.iter().zip(&first[t]).any(|(a, b)| a.abs_diff(*b) > 2) {
                    flat[t] = false;
                }
            }
        }
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for ty in 0..gh {
            for tx in 0..gw {
                if !flat[ty * gw + tx] {
                    x0 = x0.min(tx);
                    y0 = y0.min(ty);
                    x1 = x1.max(tx + 1);
                    y1 = y1.max(ty + 1);
                }
            }
        }
        if x0 == usize::MAX {
            return None;
        }
        let px = |t: usize, max: usize| ((t * T).min(max)) as u32;
        let (x, y) = (px(x0.saturating_sub(1), w), px(y0.saturating_sub(1), h));
        Some(Self {
            x,
            y,
            w: px(x1 + 1, w) - x,
            h: px(y1 + 1, h) - y,
        })
    }
}

/// A detected line in original pixels: the box cropped for recognition (expanded as
/// PaddleOCR expands it, a margin the recogniser needs), the tighter box reported to
/// callers, and the detector's mean probability inside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
    pub tight: [f32; 4],
    pub score: f32,
}

/// How far the reported box extends past the detector's text core, as a fraction of the
/// unclip distance: measured on the `ui` suite, the glyphs' ink ends about 0.3 of the way
/// out (docs/perception.md).
const TIGHT: f32 = 0.3;

/// The detection session and its reused buffers.
#[derive(Debug)]
pub(crate) struct Detector {
    session: Session,
    resizer: fr::Resizer,
    resized: Vec<u8>,
    input: Vec<f32>,
    post: PostBuffers,
}

/// Buffers of the post-processing (apart from the session, so both can be borrowed).
#[derive(Debug, Default)]
struct PostBuffers {
    bitmap: Vec<u8>,
    dilated: Vec<u8>,
    stack: Vec<u32>,
}

impl Detector {
    pub fn new(session: Session, path: &Path) -> Result<Self> {
        super::reader::check_io(&session, path, INPUT, OUTPUT)?;
        Ok(Self {
            session,
            resizer: fr::Resizer::new(),
            resized: Vec::new(),
            input: Vec::new(),
            post: PostBuffers::default(),
        })
    }

    /// Detects the lines inside `region` of `frame`; boxes are in original pixels and lie
    /// inside the region.
    pub fn detect(
        &mut self,
        frame: &RgbFrame,
        region: Region,
        cfg: &OcrConfig,
    ) -> Result<Vec<LineBox>> {
        let (rw, rh) = cfg.det_size(region.w, region.h);
        let (pw, ph) = (rw.div_ceil(32) * 32, rh.div_ceil(32) * 32);
        self.prepare_input(frame, region, (rw, rh), (pw, ph))?;
        let shape = [1usize, 3, ph as usize, pw as usize];
        let input = TensorRef::from_array_view((shape, &self.input[..]))?;
        let outputs = self.session.run(ort::inputs![INPUT => input])?;
        let (out_shape, prob) = outputs[OUTPUT].try_extract_tensor::<f32>()?;
        let want = [1i64, 1, i64::from(ph), i64::from(pw)];
        if out_shape[..] != want[..] {
            return Err(Error::Output {
                graph: "OCR detector",
                message: format!("output has shape {out_shape}, expected {want:?}"),
            });
        }
        Ok(self.post.boxes(prob, pw as usize, (rw, rh), region, cfg))
    }

    /// Resizes the region to `rw × rh`, normalises it as PaddleOCR does — BGR planes of
    /// `(v / 255 − 0.5) / 0.5` — and pads with zeros to `pw × ph`.
    fn prepare_input(
        &mut self,
        frame: &RgbFrame,
        region: Region,
        (rw, rh): (u32, u32),
        (pw, ph): (u32, u32),
    ) -> Result<()> {
        let (rwu, rhu) = (rw as usize, rh as usize);
        self.resized.clear();
        self.resized.resize(rwu * rhu * 3, 0);
        if (rw, rh) == (region.w, region.h) {
            let stride = frame.width as usize * 3;
            for row in 0..rhu {
                let start = (region.y as usize + row) * stride + region.x as usize * 3;
                self.resized[row * rwu * 3..(row + 1) * rwu * 3]
                    .copy_from_slice(&frame.data[start..start + rwu * 3]);
            }
        } else {
            let resize_err = |e: String| Error::invalid("image", format!("resize failed: {e}"));
            let src = fr::images::ImageRef::new(
                frame.width,
                frame.height,
                &frame.data,
                fr::PixelType::U8x3,
            )
            .map_err(|e| resize_err(e.to_string()))?;
            let mut dst =
                fr::images::Image::from_slice_u8(rw, rh, &mut self.resized, fr::PixelType::U8x3)
                    .map_err(|e| resize_err(e.to_string()))?;
            let options = fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
                .crop(
                    f64::from(region.x),
                    f64::from(region.y),
                    f64::from(region.w),
                    f64::from(region.h),
                );
            self.resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| resize_err(e.to_string()))?;
        }
        let (pwu, phu) = (pw as usize, ph as usize);
        let plane = pwu * phu;
        self.input.clear();
        self.input.resize(3 * plane, 0.0);
        let (b, rest) = self.input.split_at_mut(plane);
        let (g, r) = rest.split_at_mut(plane);
        for y in 0..rhu {
            let src = &self.resized[y * rwu * 3..(y + 1) * rwu * 3];
            let row = y * pwu;
            for (x, px) in src.chunks_exact(3).enumerate() {
                r[row + x] = f32::from(px[0]) / 127.5 - 1.0;
                g[row + x] = f32::from(px[1]) / 127.5 - 1.0;
                b[row + x] = f32::from(px[2]) / 127.5 - 1.0;
            }
        }
        Ok(())
    }
}

impl PostBuffers {
    /// DB post-processing of the probability map `prob` (row stride `stride`), of which
    /// the top-left `rw × rh` cover `region`.
    fn boxes(
        &mut self,
        prob: &[f32],
        stride: usize,
        (rw, rh): (u32, u32),
        region: Region,
        cfg: &OcrConfig,
    ) -> Vec<LineBox> {
        let (w, h) = (rw as usize, rh as usize);
        self.bitmap.clear();
        self.bitmap.resize(w * h, 0);
        for y in 0..h {
            for x in 0..w {
                self.bitmap[y * w + x] = u8::from(prob[y * stride + x] > cfg.det_thresh);
            }
        }
        // cv2.dilate with a 2×2 kernel anchored at (1, 1): a pixel is set when it or its
        // left, upper or upper-left neighbour is.
        self.dilated.clear();
        self.dilated.resize(w * h, 0);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let mut v = self.bitmap[i];
                if x > 0 {
                    v |= self.bitmap[i - 1];
                }
                if y > 0 {
                    v |= self.bitmap[i - w];
                    if x > 0 {
                        v |= self.bitmap[i - w - 1];
                    }
                }
                self.dilated[i] = v;
            }
        }
        let sx = region.w as f32 / rw as f32;
        let sy = region.h as f32 / rh as f32;
        let mut out = Vec::new();
        let mut candidates = 0;
        for start in 0..w * h {
            if self.dilated[start] != 1 {
                continue;
            }
            if candidates >= cfg.det_max_candidates {
                break;
            }
            candidates += 1;
            // 8-connected flood fill; visited pixels are marked 2.
            let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
            self.dilated[start] = 2;
            self.stack.clear();
            self.stack.push(start as u32);
            while let Some(i) = self.stack.pop() {
                let i = i as usize;
                let (x, y) = (i % w, i / w);
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
                for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        let j = ny * w + nx;
                        if self.dilated[j] == 1 {
                            self.dilated[j] = 2;
                            self.stack.push(j as u32);
                        }
                    }
                }
            }
            let (bw, bh) = ((x1 - x0) as f32, (y1 - y0) as f32);
            if bw.min(bh) < 3.0 {
                continue;
            }
            let mut sum = 0.0f64;
            for y in y0..=y1 {
                sum += prob[y * stride + x0..=y * stride + x1]
                    .iter()
                    .map(|&p| f64::from(p))
                    .sum::<f64>();
            }
            let score = (sum / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f64) as f32;
            if score < cfg.det_box_thresh {
                continue;
            }
            // Unclip: the polygon offset of PaddleOCR, for a rectangle.
            let d = bw * bh * cfg.det_unclip_ratio / (2.0 * (bw + bh));
            if bw.min(bh) + 2.0 * d < 5.0 {
                continue;
            }
            let fx = |v: f32| (v * sx).round().clamp(0.0, region.w as f32) + region.x as f32;
            let fy = |v: f32| (v * sy).round().clamp(0.0, region.h as f32) + region.y as f32;
            let t = TIGHT * d;
            let b = LineBox {
                x1: fx(x0 as f32 - d),
                y1: fy(y0 as f32 - d),
                x2: fx(x1 as f32 + d),
                y2: fy(y1 as f32 + d),
                tight: [
                    fx(x0 as f32 - t),
                    fy(y0 as f32 - t),
                    fx(x1 as f32 + t),
                    fy(y1 as f32 + t),
                ],
                score,
            };
            if b.x2 - b.x1 <= 3.0 || b.y2 - b.y1 <= 3.0 {
                continue;
            }
            out.push(b);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32) -> RgbFrame {
        RgbFrame {
            width: w,
            height: h,
            data: vec![90; (w * h * 3) as usize],
        }
    }

    #[test]
    fn content_is_the_non_flat_tiles_grown_by_one() {
        let mut f = frame(320, 200);
        assert_eq!(Region::content(&f), None);
        // A mark at (100..110, 70..75): tile (3, 2) → tiles 2..=4 × 1..=3 → pixels 64..160 × 32..128.
        for y in 70..75 {
            for x in 100..110 {
                let i = (y * 320 + x) * 3;
                f.data[i] = 0;
            }
        }
        assert_eq!(
            Region::content(&f),
            Some(Region {
                x: 64,
                y: 32,
                w: 96,
                h: 96
            })
        );
        // Noise of ±2 is still flat; a mark at the edge is clipped to the frame.
        f.data[3] = 92;
        f.data[(199 * 320 + 319) * 3 + 1] = 200;
        assert_eq!(
            Region::content(&f),
            Some(Region {
                x: 64,
                y: 32,
                w: 256,
                h: 168
            })
        );
    }
}
