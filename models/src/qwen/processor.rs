//! `Qwen2VLImageProcessor` (the PIL backend of `transformers` 5.24, the one it falls back to
//! without torchvision, and the only one of 4.x): an RGB image → `pixel_values
//! [grid_t·grid_h·grid_w, C·T·P·P]` and `image_grid_thw`, plus the number of `<|image_pad|>`
//! tokens it takes and the map from the model's answer frame back to original pixels.
//!
//! Steps, as `transformers` does them:
//! 1. [`smart_resize`]: the sides become multiples of `patch_size · merge_size` (28) with
//!    Python's round-half-to-even, then are scaled into `[min_pixels, max_pixels]`;
//! 2. a bicubic resize as Pillow's `Image.resize(..., BICUBIC)` on 8-bit RGB
//!    ([`resize_bicubic`]: separable, support widened by the scale when shrinking, 22-bit
//!    fixed-point coefficients, an 8-bit intermediate image; see there for the pass order);
//! 3. `x · rescale_factor` in f64, cast to f32, then `(x − mean) / std` in f32;
//! 4. patches ordered by merge window (`gh/m, gw/m, m, m`), each flattened as `(C, T, P, P)`
//!    with the single image repeated `temporal_patch_size` times along `T`.
//!
//! The torchvision backend of `transformers` 5 (used when torchvision is installed) resizes
//! with torch's antialiased bicubic instead of Pillow's and is not what this module matches.

use std::path::Path;

use image::RgbImage;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::geometry::{CoordFrame, FrameMap, ResizeMode};
use crate::qwen::config::Family;

/// OpenAI CLIP normalisation, the default of `Qwen2VLImageProcessor`.
pub const CLIP_MEAN: [f64; 3] = [0.48145466, 0.4578275, 0.40821073];
pub const CLIP_STD: [f64; 3] = [0.26862954, 0.26130258, 0.27577711];
/// `PILImageResampling.BICUBIC`, the only `resample` value supported.
pub const PIL_BICUBIC: u32 = 3;
/// `smart_resize` refuses images whose long side exceeds 200 × the short side.
pub const MAX_ASPECT_RATIO: f64 = 200.0;

/// `{"shortest_edge", "longest_edge"}` of newer `preprocessor_config.json` files: pixel-count
/// bounds despite the names.
#[derive(Debug, Clone, Copy, Deserialize)]
struct SizeBounds {
    shortest_edge: Option<u64>,
    longest_edge: Option<u64>,
}

/// The fields of `preprocessor_config.json` this processor reads, with `transformers`' defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct RawProcessorConfig {
    min_pixels: Option<u64>,
    max_pixels: Option<u64>,
    size: Option<SizeBounds>,
    patch_size: usize,
    temporal_patch_size: usize,
    merge_size: usize,
    image_mean: Vec<f64>,
    image_std: Vec<f64>,
    rescale_factor: f64,
    do_resize: bool,
    do_rescale: bool,
    do_normalize: bool,
    resample: u32,
}

impl Default for RawProcessorConfig {
    fn default() -> Self {
        RawProcessorConfig {
            min_pixels: None,
            max_pixels: None,
            size: None,
            patch_size: 14,
            temporal_patch_size: 2,
            merge_size: 2,
            image_mean: CLIP_MEAN.to_vec(),
            image_std: CLIP_STD.to_vec(),
            rescale_factor: 1.0 / 255.0,
            do_resize: true,
            do_rescale: true,
            do_normalize: true,
            resample: PIL_BICUBIC,
        }
    }
}

/// A checked image-processor configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    pub min_pixels: u64,
    pub max_pixels: u64,
    pub patch_size: usize,
    pub temporal_patch_size: usize,
    pub merge_size: usize,
    pub image_mean: [f64; 3],
    pub image_std: [f64; 3],
    pub rescale_factor: f64,
    pub do_resize: bool,
    pub do_rescale: bool,
    pub do_normalize: bool,
}

impl Default for ProcessorConfig {
    /// The class defaults of `transformers` (`min_pixels` 56², `max_pixels` 28²·1280). The
    /// published checkpoints' files raise `max_pixels` to 12 845 056.
    fn default() -> Self {
        ProcessorConfig {
            min_pixels: 56 * 56,
            max_pixels: 28 * 28 * 1280,
            patch_size: 14,
            temporal_patch_size: 2,
            merge_size: 2,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
            rescale_factor: 1.0 / 255.0,
            do_resize: true,
            do_rescale: true,
            do_normalize: true,
        }
    }
}

impl ProcessorConfig {
    /// Reads `preprocessor_config.json`.
    pub fn load(path: &Path) -> Result<ProcessorConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        ProcessorConfig::parse(&text, path)
    }

    /// Parses the text of a `preprocessor_config.json`; `path` only names it in errors.
    pub fn parse(json: &str, path: &Path) -> Result<ProcessorConfig> {
        let raw: RawProcessorConfig = serde_json::from_str(json)
            .map_err(|e| Error::checkpoint(path, format!("preprocessor config: {e}")))?;
        let bad = |m: String| Err(Error::checkpoint(path, format!("preprocessor config: {m}")));
        if raw.resample != PIL_BICUBIC {
            return bad(format!(
                "resample {} is not supported (only {PIL_BICUBIC}, bicubic, as Qwen2-VL uses)",
                raw.resample
            ));
        }
        let three = |name: &str, v: &[f64]| -> Result<[f64; 3]> {
            <[f64; 3]>::try_from(v).map_err(|_| {
                Error::checkpoint(
                    path,
                    format!("preprocessor config: {name} has {} values, not 3", v.len()),
                )
            })
        };
        let image_mean = three("image_mean", &raw.image_mean)?;
        let image_std = three("image_std", &raw.image_std)?;
        if image_std.contains(&0.0) {
            return bad("image_std has a zero".into());
        }
        // As `Qwen2VLImageProcessor.__init__`: `min_pixels` / `max_pixels` override `size`.
        let defaults = ProcessorConfig::default();
        let size = raw.size;
        let min_pixels = raw
            .min_pixels
            .or(size.and_then(|s| s.shortest_edge))
            .unwrap_or(defaults.min_pixels);
        let max_pixels = raw
            .max_pixels
            .or(size.and_then(|s| s.longest_edge))
            .unwrap_or(defaults.max_pixels);
        if min_pixels > max_pixels {
            return bad(format!("min_pixels {min_pixels} > max_pixels {max_pixels}"));
        }
        if raw.patch_size == 0 || raw.temporal_patch_size == 0 || raw.merge_size == 0 {
            return bad("patch_size, temporal_patch_size and merge_size must be positive".into());
        }
        Ok(ProcessorConfig {
            min_pixels,
            max_pixels,
            patch_size: raw.patch_size,
            temporal_patch_size: raw.temporal_patch_size,
            merge_size: raw.merge_size,
            image_mean,
            image_std,
            rescale_factor: raw.rescale_factor,
            do_resize: raw.do_resize,
            do_rescale: raw.do_rescale,
            do_normalize: raw.do_normalize,
        })
    }

    /// Side multiple of the resized image: `patch_size · merge_size`.
    pub fn factor(&self) -> usize {
        self.patch_size * self.merge_size
    }
}

/// `smart_resize` of `transformers`: `(height, width)` → the resized `(height, width)`, both
/// multiples of `factor`, the area within `[min_pixels, max_pixels]` when possible, the aspect
/// ratio kept as closely as possible.
pub fn smart_resize(
    height: usize,
    width: usize,
    factor: usize,
    min_pixels: u64,
    max_pixels: u64,
) -> Result<(usize, usize)> {
    if height == 0 || width == 0 || factor == 0 {
        return Err(Error::invalid(
            "image size",
            format!("{width}x{height} with factor {factor}: zero side"),
        ));
    }
    let (h, w, f) = (height as f64, width as f64, factor as f64);
    let ratio = h.max(w) / h.min(w);
    if ratio > MAX_ASPECT_RATIO {
        return Err(Error::invalid(
            "image size",
            format!(
                "{width}x{height}: absolute aspect ratio must be smaller than 200, got {ratio}"
            ),
        ));
    }
    // Python's `round` rounds halves to even.
    let mut h_bar = (h / f).round_ties_even() * f;
    let mut w_bar = (w / f).round_ties_even() * f;
    if h_bar * w_bar > max_pixels as f64 {
        let beta = (h * w / max_pixels as f64).sqrt();
        h_bar = f.max((h / beta / f).floor() * f);
        w_bar = f.max((w / beta / f).floor() * f);
    } else if h_bar * w_bar < min_pixels as f64 {
        let beta = (min_pixels as f64 / (h * w)).sqrt();
        h_bar = (h * beta / f).ceil() * f;
        w_bar = (w * beta / f).ceil() * f;
    }
    Ok((h_bar as usize, w_bar as usize))
}

/// One processed image: the model inputs and what is needed to read its answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedImage {
    /// Row-major `[n_patches, patch_dim]`.
    pub pixel_values: Vec<f32>,
    pub n_patches: usize,
    /// `C · temporal_patch_size · patch_size²`.
    pub patch_dim: usize,
    /// `image_grid_thw`: `[1, resized_h / patch, resized_w / patch]`.
    pub grid_thw: [usize; 3],
    /// Size of the image the patches were cut from, `(width, height)`.
    pub resized: (u32, u32),
    /// Size of the image given, `(width, height)`.
    pub original: (u32, u32),
    /// `<|image_pad|>` tokens standing for this image in the prompt.
    pub n_image_tokens: usize,
}

impl ProcessedImage {
    /// The map between the family's answer frame (resized-image pixels for Qwen2.5-VL,
    /// `norm1000` for Qwen2-VL) and original pixels.
    pub fn frame_map(&self, family: Family) -> Result<FrameMap> {
        FrameMap::new(
            self.original,
            self.resized,
            ResizeMode::Stretch,
            answer_frame(family),
        )
    }
}

/// The frame a family's grounding answers are written in (UI-R1 / GUI-G1 for Qwen2.5-VL,
/// the Qwen2-VL report's 0–1000 grid for Qwen2-VL).
pub fn answer_frame(family: Family) -> CoordFrame {
    match family {
        Family::Qwen2Vl => CoordFrame::Norm1000,
        Family::Qwen25Vl => CoordFrame::Pixels,
    }
}

/// `Qwen2VLImageProcessor` for single images.
#[derive(Debug, Clone)]
pub struct ImageProcessor {
    config: ProcessorConfig,
}

impl ImageProcessor {
    pub fn new(config: ProcessorConfig) -> Self {
        ImageProcessor { config }
    }

    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The resized `(height, width)` of an image of `(height, width)`.
    pub fn resized_size(&self, height: usize, width: usize) -> Result<(usize, usize)> {
        let c = &self.config;
        if c.do_resize {
            smart_resize(height, width, c.factor(), c.min_pixels, c.max_pixels)
        } else {
            Ok((height, width))
        }
    }

    /// `<|image_pad|>` tokens for an image of `(height, width)`, without processing it.
    pub fn n_image_tokens(&self, height: usize, width: usize) -> Result<usize> {
        let (h, w) = self.resized_size(height, width)?;
        let p = self.config.patch_size;
        Ok((h / p) * (w / p) / (self.config.merge_size * self.config.merge_size))
    }

    /// Processes one RGB image.
    pub fn process(&self, image: &RgbImage) -> Result<ProcessedImage> {
        let c = &self.config;
        let (ow, oh) = image.dimensions();
        let (rh, rw) = self.resized_size(oh as usize, ow as usize)?;
        let unit = c.factor();
        if rh % unit != 0 || rw % unit != 0 {
            return Err(Error::invalid(
                "image size",
                format!("{rw}x{rh} is not a multiple of patch_size · merge_size = {unit} (do_resize is off)"),
            ));
        }
        let resized = if (rw, rh) == (ow as usize, oh as usize) {
            image.clone()
        } else {
            resize_bicubic(image, rw as u32, rh as u32)
        };
        let planes = normalize(&resized, c);
        let (p, m, t) = (c.patch_size, c.merge_size, c.temporal_patch_size);
        let (gh, gw) = (rh / p, rw / p);
        let patch_dim = 3 * t * p * p;
        let n_patches = gh * gw;
        let mut pixel_values = Vec::with_capacity(n_patches * patch_dim);
        let plane_len = rh * rw;
        for bi in 0..gh / m {
            for bj in 0..gw / m {
                for a in 0..m {
                    for b in 0..m {
                        let (y0, x0) = ((bi * m + a) * p, (bj * m + b) * p);
                        for ch in 0..3 {
                            let plane = &planes[ch * plane_len..(ch + 1) * plane_len];
                            for _ in 0..t {
                                for y in y0..y0 + p {
                                    pixel_values
                                        .extend_from_slice(&plane[y * rw + x0..y * rw + x0 + p]);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(ProcessedImage {
            pixel_values,
            n_patches,
            patch_dim,
            grid_thw: [1, gh, gw],
            resized: (rw as u32, rh as u32),
            original: (ow, oh),
            n_image_tokens: n_patches / (m * m),
        })
    }
}

/// `[3, H, W]` f32 planes: `x · rescale_factor` in f64 cast to f32 (`np_rescale`), then
/// `(x − mean) / std` in f32 (`np_normalize` on a float32 image).
fn normalize(image: &RgbImage, c: &ProcessorConfig) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let plane_len = (w * h) as usize;
    let mut planes = vec![0f32; 3 * plane_len];
    let mean = c.image_mean.map(|m| m as f32);
    let std = c.image_std.map(|s| s as f32);
    for (i, px) in image.pixels().enumerate() {
        for ch in 0..3 {
            let raw = px.0[ch];
            let mut v = if c.do_rescale {
                (raw as f64 * c.rescale_factor) as f32
            } else {
                raw as f32
            };
            if c.do_normalize {
                v = (v - mean[ch]) / std[ch];
            }
            planes[ch * plane_len + i] = v;
        }
    }
    planes
}

/// Fixed-point precision of Pillow's 8-bit resampling (`PRECISION_BITS` in `Resample.c`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Pillow's bicubic kernel (`a = −0.5`), support 2.
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output pixel: the first input index and its fixed-point weights (`precompute_coeffs`
/// and `normalize_coeffs_8bpc` of Pillow, for the whole-image box).
fn coefficients(in_size: u32, out_size: u32) -> Vec<(usize, Vec<i32>)> {
    const SUPPORT: f64 = 2.0;
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = SUPPORT * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // `(int)(v + 0.5)` in C truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| bicubic((x as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let scaled = w * (1u32 << PRECISION_BITS) as f64;
                    // Round half away from zero, as Pillow does.
                    (if scaled < 0.0 {
                        scaled - 0.5
                    } else {
                        scaled + 0.5
                    }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's `Image.resize((width, height), Image.BICUBIC)` on an 8-bit RGB image: two
/// separable passes through an 8-bit intermediate image; a pass whose size does not change
/// is skipped, as in Pillow.
///
/// Pass order: Pillow's `Resample.c` runs the horizontal pass first, but Pillow 13.0 (the
/// tools venv's) runs the vertical one first for some sizes — every time the width grows
/// while the height shrinks, and rarely otherwise (about 7 % of the size pairs whose two
/// orders differ, measured on random sizes). This follows the first rule only: where Pillow
/// picks the other order the output differs by a few levels at some pixels. The parity
/// test's images, typical screenshot and photo sizes included, are bit-exact.
///
/// Hand-written rather than `fast_image_resize` (already a dependency): that crate's 8-bit
/// convolution uses 16-bit coefficients with a per-kernel precision, so its output differs
/// from Pillow's by one level in places, and the processor must match `transformers`.
pub fn resize_bicubic(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (iw, ih) = image.dimensions();
    let src = image.as_raw().clone();
    let out = if width > iw && height < ih {
        let v = resize_vertical(src, iw, ih, height);
        resize_horizontal(v, iw, height, width)
    } else {
        let h = resize_horizontal(src, iw, ih, width);
        resize_vertical(h, width, ih, height)
    };
    // The buffer has exactly width · height · 3 bytes by construction.
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// `w × h` RGB bytes → `width × h`.
fn resize_horizontal(src: Vec<u8>, w: u32, h: u32, width: u32) -> Vec<u8> {
    if width == w {
        return src;
    }
    let coeffs = coefficients(w, width);
    let mut out = vec![0u8; (width * h * 3) as usize];
    for y in 0..h as usize {
        let row = &src[y * w as usize * 3..(y + 1) * w as usize * 3];
        for (x, (xmin, k)) in coeffs.iter().enumerate() {
            let mut acc = [1i64 << (PRECISION_BITS - 1); 3];
            for (i, &wt) in k.iter().enumerate() {
                let px = &row[(xmin + i) * 3..(xmin + i) * 3 + 3];
                for ch in 0..3 {
                    acc[ch] += px[ch] as i64 * wt as i64;
                }
            }
            let o = (y * width as usize + x) * 3;
            for ch in 0..3 {
                out[o + ch] = clip8(acc[ch]);
            }
        }
    }
    out
}

/// `w × h` RGB bytes → `w × height`.
fn resize_vertical(src: Vec<u8>, w: u32, h: u32, height: u32) -> Vec<u8> {
    if height == h {
        return src;
    }
    let coeffs = coefficients(h, height);
    let stride = w as usize * 3;
    let mut out = vec![0u8; height as usize * stride];
    for (y, (ymin, k)) in coeffs.iter().enumerate() {
        for xc in 0..stride {
            let mut acc = 1i64 << (PRECISION_BITS - 1);
            for (i, &wt) in k.iter().enumerate() {
                acc += src[(ymin + i) * stride + xc] as i64 * wt as i64;
            }
            out[y * stride + xc] = clip8(acc);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_resize_follows_transformers() {
        // Round half to even: 42 / 28 = 1.5 → 2, 70 / 28 = 2.5 → 2.
        assert_eq!(smart_resize(42, 70, 28, 0, u64::MAX).unwrap(), (56, 56));
        // Published max_pixels: 1920×1080 → 1092×1932 is within 12 845 056.
        assert_eq!(
            smart_resize(1080, 1920, 28, 3136, 12_845_056).unwrap(),
            (1092, 1932)
        );
        // Above max_pixels: shrunk, floored to multiples of 28.
        let (h, w) = smart_resize(1080, 1920, 28, 3136, 1_003_520).unwrap();
        assert!(h * w <= 1_003_520 && h % 28 == 0 && w % 28 == 0, "{h}x{w}");
        // Tiny images grow to min_pixels.
        assert_eq!(smart_resize(10, 10, 28, 3136, 1_003_520).unwrap(), (56, 56));
        let err = smart_resize(1, 201, 28, 3136, 1_003_520)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aspect ratio must be smaller than 200"),
            "{err}"
        );
        assert!(smart_resize(1, 200, 28, 3136, 1_003_520).is_ok());
    }

    #[test]
    fn processor_config_reads_both_layouts() {
        let path = Path::new("preprocessor_config.json");
        let published = r#"{"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14,
            "temporal_patch_size": 2, "merge_size": 2,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor"}"#;
        let c = ProcessorConfig::parse(published, path).unwrap();
        assert_eq!((c.min_pixels, c.max_pixels), (3136, 12_845_056));
        let v5 = r#"{"size": {"shortest_edge": 1000, "longest_edge": 20000}, "resample": 3}"#;
        let c = ProcessorConfig::parse(v5, path).unwrap();
        assert_eq!((c.min_pixels, c.max_pixels), (1000, 20000));
        assert_eq!(c.image_mean, CLIP_MEAN);
        let err = ProcessorConfig::parse(r#"{"resample": 2}"#, path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("resample 2 is not supported"), "{err}");
    }

    #[test]
    fn patches_count_and_layout() {
        let mut img = RgbImage::new(56, 28);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([x as u8, y as u8, 7]);
        }
        let processor = ImageProcessor::new(ProcessorConfig {
            min_pixels: 0,
            do_rescale: false,
            do_normalize: false,
            ..ProcessorConfig::default()
        });
        let out = processor.process(&img).unwrap();
        assert_eq!(out.grid_thw, [1, 2, 4]);
        assert_eq!(out.n_patches, 8);
        assert_eq!(out.patch_dim, 3 * 2 * 14 * 14);
        assert_eq!(out.n_image_tokens, 2);
        assert_eq!(out.pixel_values.len(), 8 * out.patch_dim);
        // The third row is patch (row 1, col 0) of the first 2×2 merge window; its first
        // channel starts at x = 0, y = 14, and the time copy repeats it.
        let row = &out.pixel_values[2 * out.patch_dim..3 * out.patch_dim];
        assert_eq!(row[0], 0.0);
        assert_eq!(row[14], 0.0);
        assert_eq!(row[1], 1.0);
        let (c_len, t_len) = (2 * 196, 196);
        assert_eq!(row[t_len], row[0]);
        assert_eq!(row[c_len], 14.0);
        // The fifth row is the second merge window: x starts at 28.
        assert_eq!(out.pixel_values[4 * out.patch_dim], 28.0);
    }

    #[test]
    fn answers_map_back_to_original_pixels() {
        let processor = ImageProcessor::new(ProcessorConfig::default());
        let img = RgbImage::new(1000, 500);
        let out = processor.process(&img).unwrap();
        let (rw, rh) = out.resized;
        let map = out.frame_map(Family::Qwen25Vl).unwrap();
        let p = map.answer_to_original(crate::geometry::Point::new(rw as f64 / 2.0, rh as f64));
        assert!((p.x - 500.0).abs() < 1e-9 && (p.y - 500.0).abs() < 1e-9);
        let map = out.frame_map(Family::Qwen2Vl).unwrap();
        let p = map.answer_to_original(crate::geometry::Point::new(250.0, 1000.0));
        assert!((p.x - 250.0).abs() < 1e-9 && (p.y - 500.0).abs() < 1e-9);
    }

    #[test]
    fn an_unchanged_size_is_copied() {
        let img = RgbImage::from_fn(9, 5, |x, y| image::Rgb([(x * 20) as u8, (y * 40) as u8, 3]));
        assert_eq!(resize_bicubic(&img, 9, 5), img);
    }
}
