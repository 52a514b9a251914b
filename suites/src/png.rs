//! Fast PNG writing for generated samples.
//!
//! PNG encoding dominates generation time, so images use the `png` crate's fdeflate-based
//! `Fast` compression with the `Up` filter: synthetic screens are flat colour regions that
//! compress well with either, and `Up` avoids the adaptive filter's per-row trial encodes.
//! Sample files are written directly (not atomically): `data.jsonl` is written last and
//! atomically, so a crash never leaves a dataset that names a missing or partial image.

use std::fs;
use std::path::Path;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbImage};

use crate::error::{Error, Result};

use reticle_models::imageio::Depth16;

fn encode(path: &Path, bytes: &[u8], w: u32, h: u32, color: ExtendedColorType) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 4);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Up)
        .write_image(bytes, w, h, color)
        .map_err(|e| Error::Image {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(out)
}

fn write(path: &Path, png: &[u8]) -> Result<()> {
    fs::write(path, png).map_err(|e| Error::io(path, e))
}

/// Writes an RGB image as PNG.
pub fn write_rgb(path: &Path, img: &RgbImage) -> Result<()> {
    write(
        path,
        &encode(
            path,
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )?,
    )
}

/// Writes an 8-bit grayscale buffer as PNG.
pub fn write_gray(path: &Path, data: &[u8], w: u32, h: u32) -> Result<()> {
    write(path, &encode(path, data, w, h, ExtendedColorType::L8)?)
}

/// Writes a 16-bit depth image as PNG (big-endian samples, as PNG requires).
pub fn write_depth(path: &Path, depth: &Depth16) -> Result<()> {
    // `write_image` takes 16-bit samples in native byte order and converts them itself.
    let bytes: Vec<u8> = depth
        .as_raw()
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
    write(
        path,
        &encode(
            path,
            &bytes,
            depth.width(),
            depth.height(),
            ExtendedColorType::L16,
        )?,
    )
}
