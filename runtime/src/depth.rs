//! The one strict depth reader: aligned depth images are single-channel 16-bit PNGs
//! (0 = no reading). 8-bit and colour images are refused — their values are not distances.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, Luma};
use reticle_models::preprocess::{decode_image, open_image};

use crate::error::{Error, Result};

/// A decoded 16-bit depth image.
pub type Depth16 = ImageBuffer<Luma<u16>, Vec<u16>>;

/// Reads a depth PNG from a file.
pub fn read_depth16(path: &Path) -> Result<Depth16> {
    into_depth16(open_image(path)?, &path.display().to_string())
}

/// Decodes an in-memory depth PNG; `name` is used in errors.
pub fn decode_depth16(bytes: &[u8], name: &str) -> Result<Depth16> {
    into_depth16(decode_image(bytes, Path::new(name))?, name)
}

fn into_depth16(image: DynamicImage, name: &str) -> Result<Depth16> {
    as_depth16(image).map_err(|why| Error::invalid("depth image", format!("{name} {why}")))
}

/// The 16-bit depth a decoded image holds, or why it holds none (a message that names no
/// file, for callers with error types of their own).
pub fn as_depth16(image: DynamicImage) -> std::result::Result<Depth16, String> {
    match image {
        DynamicImage::ImageLuma16(d) => Ok(d),
        other => Err(format!(
            "is {:?}; a single-channel 16-bit PNG is required (an 8-bit or colour image does \
             not hold distances)",
            other.color()
        )),
    }
}
