//! The image the reader works on: 8-bit RGB, converted once per read into a reused buffer
//! (also the Qwen policy's conversion to the processor's RGB input).

use image::{DynamicImage, RgbImage};
use reticle_models::preprocess::PixelFormat;

use reticle_models::preprocess::MAX_PIXELS;

use crate::error::{Error, Result};
use crate::grounder::ImageInput;

/// An RGB8 copy of the input, rows contiguous.
#[derive(Debug, Default)]
pub(crate) struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// Converts `image` into this buffer (reusing its allocation); refuses images above
    /// `max_pixels` before allocating anything.
    pub fn load(&mut self, image: ImageInput<'_>, max_pixels: u64) -> Result<()> {
        let (w, h) = match image {
            ImageInput::Image(i) => (i.width(), i.height()),
            ImageInput::Pixels(p) => (p.width(), p.height()),
        };
        if w == 0 || h == 0 {
            return Err(Error::invalid("image", format!("{w}x{h} has no pixels")));
        }
        let n = u64::from(w) * u64::from(h);
        if n > max_pixels {
            return Err(Error::invalid(
                "image",
                format!(
                    "{w}x{h} is {:.1} megapixels; at most {:.1} megapixels are read (scale the \
                     image down or crop it)",
                    n as f64 / 1e6,
                    max_pixels as f64 / 1e6
                ),
            ));
        }
        self.width = w;
        self.height = h;
        self.data.clear();
        self.data.reserve(n as usize * 3);
        match image {
            ImageInput::Image(DynamicImage::ImageRgb8(b)) => {
                self.data.extend_from_slice(b.as_raw())
            }
            ImageInput::Image(DynamicImage::ImageRgba8(b)) => self.push_4(b.as_raw(), [0, 1, 2]),
            ImageInput::Image(DynamicImage::ImageLuma8(b)) => self.push_gray(b.as_raw()),
            // 16-bit, float and gray+alpha images: one conversion.
            ImageInput::Image(other) => self.data.extend_from_slice(other.to_rgb8().as_raw()),
            ImageInput::Pixels(p) => match p.format() {
                PixelFormat::Rgb8 => self.data.extend_from_slice(p.data()),
                PixelFormat::Rgba8 => self.push_4(p.data(), [0, 1, 2]),
                PixelFormat::Bgra8 => self.push_4(p.data(), [2, 1, 0]),
                PixelFormat::Gray8 => self.push_gray(p.data()),
            },
        }
        Ok(())
    }

    fn push_4(&mut self, src: &[u8], [r, g, b]: [usize; 3]) {
        for px in src.chunks_exact(4) {
            self.data.extend_from_slice(&[px[r], px[g], px[b]]);
        }
    }

    fn push_gray(&mut self, src: &[u8]) {
        for &v in src {
            self.data.extend_from_slice(&[v, v, v]);
        }
    }
}

/// An 8-bit RGB copy of `image` (the Qwen processor's input, the pointer's element proposals).
pub(crate) fn to_rgb(image: ImageInput<'_>) -> Result<RgbImage> {
    let mut frame = RgbFrame::default();
    frame.load(image, MAX_PIXELS)?;
    let (w, h) = (frame.width, frame.height);
    // `load` wrote exactly `w × h` RGB pixels, so this only fails on a bug there.
    RgbImage::from_raw(w, h, frame.data)
        .ok_or_else(|| Error::invalid("image", format!("{w}x{h}: the RGB copy has the wrong size")))
}
