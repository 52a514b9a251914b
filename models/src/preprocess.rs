//! Image preprocessing shared by training and running: the one place where pixels become
//! model input, so that a model sees exactly the same planes in `reticle-train` and in
//! `reticle-runtime`.
//!
//! Steps, for a model input of `width × height` (the manifest's [`Preprocess`]):
//! 1. the image (RGB8, RGBA8, BGRA8 or Gray8, any size up to [`MAX_PIXELS`]) is brought to
//!    RGB: alpha is dropped (not composited), BGRA is swapped, gray is resized once and
//!    copied to the three planes;
//! 2. it is stretched to the input size with a bilinear convolution (`fast_image_resize`,
//!    SIMD, `ResizeAlg::Convolution(FilterType::Bilinear)`);
//! 3. for RGB-D models the 16-bit depth image is resized with nearest-neighbour sampling
//!    (bilinear would invent depths at object edges), converted to metres with its scale,
//!    divided by `depth_max_m`, clamped to 0..1 and stored as `round(v · 255)`;
//! 4. the result is `[C, H, W]` `u8` planes ([`Preprocessor::planes`]); the float input is
//!    `(x / 255 − mean[c]) / std[c]` ([`Preprocessor::normalize`]).
//!
//! A [`Preprocessor`] owns its resizer and scratch buffers: after the first image of a given
//! size, preprocessing allocates nothing. Memory is bounded: images above [`MAX_PIXELS`] or
//! with a zero side are refused, and decoding goes through [`crate::imageio`] (bounded
//! decoder memory, EXIF orientation applied).

use std::path::Path;

use fast_image_resize as fr;
use image::DynamicImage;

use crate::error::{Error, Result};
use crate::geometry::ResizeMode;
use crate::imageio::check_size;
pub use crate::imageio::{MAX_FILE_BYTES, MAX_PIXELS};
use crate::manifest::{Channels, Preprocess};

/// How the bytes of a pixel buffer are laid out. Rows are contiguous, without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8,
    /// RGB plus alpha; alpha is ignored.
    Rgba8,
    /// Blue, green, red, alpha: the usual screenshot layout; alpha is ignored.
    Bgra8,
    Gray8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(&self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
            PixelFormat::Gray8 => 1,
        }
    }
}

/// A borrowed image: `height` rows of `width` pixels in `format`.
#[derive(Debug, Clone, Copy)]
pub struct PixelsRef<'a> {
    width: u32,
    height: u32,
    format: PixelFormat,
    data: &'a [u8],
}

impl<'a> PixelsRef<'a> {
    /// Checks the size limits and that `data` holds exactly `width × height` pixels.
    pub fn new(width: u32, height: u32, format: PixelFormat, data: &'a [u8]) -> Result<Self> {
        check_size("image", width, height)?;
        let bpp = format.bytes_per_pixel();
        let want = width as usize * height as usize * bpp;
        if data.len() != want {
            let hint = if data.len() % (width as usize * height as usize) == 0 {
                format!(
                    " ({} bytes per pixel given, {format:?} has {bpp})",
                    data.len() / (width as usize * height as usize)
                )
            } else {
                String::new()
            };
            return Err(Error::invalid(
                "image",
                format!(
                    "{width}x{height} {format:?} needs {want} bytes, the buffer has {}{hint}",
                    data.len()
                ),
            ));
        }
        Ok(Self {
            width,
            height,
            format,
            data,
        })
    }

    /// The buffer of a decoded image in a format preprocessing reads directly (8-bit RGB,
    /// RGBA or gray); other formats (16-bit, float, gray + alpha) need a conversion first,
    /// see [`Preprocessor::planes_from_image`].
    pub fn from_image(image: &'a DynamicImage) -> Option<Result<Self>> {
        let (w, h) = (image.width(), image.height());
        match image {
            DynamicImage::ImageRgb8(b) => Some(Self::new(w, h, PixelFormat::Rgb8, b.as_raw())),
            DynamicImage::ImageRgba8(b) => Some(Self::new(w, h, PixelFormat::Rgba8, b.as_raw())),
            DynamicImage::ImageLuma8(b) => Some(Self::new(w, h, PixelFormat::Gray8, b.as_raw())),
            _ => None,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The pixel bytes, `height` rows of `width × format.bytes_per_pixel()` bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

/// A borrowed 16-bit depth image and the metres one unit stands for (0.001 for millimetres).
#[derive(Debug, Clone, Copy)]
pub struct DepthRef<'a> {
    width: u32,
    height: u32,
    data: &'a [u16],
    scale_m: f64,
}

impl<'a> DepthRef<'a> {
    pub fn new(width: u32, height: u32, data: &'a [u16], scale_m: f64) -> Result<Self> {
        check_size("depth image", width, height)?;
        let want = width as usize * height as usize;
        if data.len() != want {
            return Err(Error::invalid(
                "depth image",
                format!(
                    "{width}x{height} needs {want} values, the buffer has {}",
                    data.len()
                ),
            ));
        }
        if !(scale_m.is_finite() && scale_m > 0.0) {
            return Err(Error::invalid(
                "depth image",
                format!("depth scale {scale_m} must be positive"),
            ));
        }
        Ok(Self {
            width,
            height,
            data,
            scale_m,
        })
    }
}

/// Reads and decodes an image file with bounded memory and its EXIF orientation applied
/// (see [`crate::imageio::open`]).
pub fn open_image(path: &Path) -> Result<DynamicImage> {
    crate::imageio::open(path)
}

/// Decodes PNG or JPEG bytes (`name` is used in errors); see [`crate::imageio::decode`].
pub fn decode_image(bytes: &[u8], name: &Path) -> Result<DynamicImage> {
    crate::imageio::decode(bytes, name)
}

/// Turns images into model input planes; holds the resizer and scratch buffers so that
/// repeated calls allocate nothing. Not `Sync`: use one per thread.
#[derive(Debug)]
pub struct Preprocessor {
    spec: Preprocess,
    resizer: fr::Resizer,
    options: fr::ResizeOptions,
    /// Source converted to RGB (RGBA/BGRA inputs only).
    rgb: Vec<u8>,
    /// Resized interleaved pixels, `[H, W, 3]` or `[H, W]` for gray.
    resized: Vec<u8>,
    /// Conversions of images `image` cannot hand over as 8-bit RGB/RGBA/gray.
    converted: Option<image::RgbImage>,
}

impl Preprocessor {
    /// A preprocessor for a model input; fails on specs the runtime cannot honour.
    pub fn new(spec: &Preprocess) -> Result<Self> {
        if spec.resize != ResizeMode::Stretch {
            return Err(Error::invalid(
                "preprocess",
                format!(
                    "resize mode {:?} is not supported (only stretch)",
                    spec.resize
                ),
            ));
        }
        check_size("model input", spec.width, spec.height)?;
        let c = spec.channels.count();
        if spec.mean.len() != c || spec.std.len() != c {
            return Err(Error::invalid(
                "preprocess",
                format!("mean/std need {c} values each"),
            ));
        }
        if spec.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::invalid("preprocess", "std must be positive"));
        }
        if spec.channels == Channels::Rgbd
            && !spec.depth_max_m.is_some_and(|m| m.is_finite() && m > 0.0)
        {
            return Err(Error::invalid(
                "preprocess",
                "RGB-D input needs a positive depth_max_m",
            ));
        }
        Ok(Self {
            spec: spec.clone(),
            resizer: fr::Resizer::new(),
            options: fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
            rgb: Vec::new(),
            resized: Vec::new(),
            converted: None,
        })
    }

    /// The model input `(width, height)`.
    pub fn input_size(&self) -> (u32, u32) {
        (self.spec.width, self.spec.height)
    }

    /// Planes per image: 3 (RGB) or 4 (RGB-D).
    pub fn channels(&self) -> usize {
        self.spec.channels.count()
    }

    /// Values in one image's planes: `channels × height × width`.
    pub fn plane_len(&self) -> usize {
        self.channels() * self.spec.width as usize * self.spec.height as usize
    }

    /// Writes the `[C, H, W]` `u8` planes of `image` (and `depth` for RGB-D models) into
    /// `out`, replacing its contents. RGB models ignore `depth`; RGB-D models require it.
    pub fn planes(
        &mut self,
        image: PixelsRef<'_>,
        depth: Option<DepthRef<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let n = w * h;
        out.clear();
        out.resize(self.plane_len(), 0);
        let gray = image.format == PixelFormat::Gray8;
        let src = match image.format {
            PixelFormat::Rgb8 | PixelFormat::Gray8 => image.data,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => {
                let (r, b) = if image.format == PixelFormat::Rgba8 {
                    (0, 2)
                } else {
                    (2, 0)
                };
                self.rgb.clear();
                self.rgb.reserve(image.data.len() / 4 * 3);
                for px in image.data.chunks_exact(4) {
                    self.rgb.extend_from_slice(&[px[r], px[1], px[b]]);
                }
                &self.rgb
            }
        };
        let pixel_type = if gray {
            fr::PixelType::U8
        } else {
            fr::PixelType::U8x3
        };
        let src_view = fr::images::ImageRef::new(image.width, image.height, src, pixel_type)
            .map_err(|e| Error::invalid("image", e.to_string()))?;
        self.resized.clear();
        self.resized.resize(n * pixel_type.size(), 0);
        let mut dst_view = fr::images::Image::from_slice_u8(
            self.spec.width,
            self.spec.height,
            &mut self.resized,
            pixel_type,
        )
        .map_err(|e| Error::invalid("image", e.to_string()))?;
        self.resizer
            .resize(&src_view, &mut dst_view, &self.options)
            .map_err(|e| Error::invalid("image", format!("resize failed: {e}")))?;
        let (rgb_planes, depth_plane) = out.split_at_mut(3 * n);
        if gray {
            for plane in rgb_planes.chunks_exact_mut(n) {
                plane.copy_from_slice(&self.resized);
            }
        } else {
            let (r, rest) = rgb_planes.split_at_mut(n);
            let (g, b) = rest.split_at_mut(n);
            for (i, px) in self.resized.chunks_exact(3).enumerate() {
                r[i] = px[0];
                g[i] = px[1];
                b[i] = px[2];
            }
        }
        match (self.spec.channels, depth) {
            (Channels::Rgb, Some(_)) => {
                tracing::debug!("RGB model: the depth image is not used");
            }
            (Channels::Rgb, None) => {}
            (Channels::Rgbd, None) => {
                return Err(Error::invalid(
                    "image",
                    "this model takes RGB-D input: a depth image is required",
                ))
            }
            (Channels::Rgbd, Some(d)) => {
                // `new` checked that RGB-D specs carry a positive depth_max_m.
                let max = f64::from(self.spec.depth_max_m.unwrap_or(1.0));
                depth_nearest(d, w, h, max, depth_plane);
            }
        }
        Ok(())
    }

    /// Like [`Preprocessor::planes`] for a decoded image of any pixel type (16-bit and
    /// float images are converted to 8-bit RGB first, reusing a buffer).
    pub fn planes_from_image(
        &mut self,
        image: &DynamicImage,
        depth: Option<DepthRef<'_>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(view) = PixelsRef::from_image(image) {
            return self.planes(view?, depth, out);
        }
        check_size("image", image.width(), image.height())?;
        let mut converted = self.converted.take().unwrap_or_default();
        let (w, h) = (image.width(), image.height());
        if converted.dimensions() != (w, h) {
            converted = image::RgbImage::new(w, h);
        }
        for (dst, src) in converted.pixels_mut().zip(image.to_rgb8().pixels()) {
            *dst = *src;
        }
        let result = PixelsRef::new(w, h, PixelFormat::Rgb8, converted.as_raw())
            .and_then(|view| self.planes(view, depth, out));
        self.converted = Some(converted);
        result
    }

    /// Appends the normalised float values of `[C, H, W]` planes to `out` (so batches are
    /// built by calling this once per image): `(x / 255 − mean[c]) / std[c]`.
    pub fn normalize(&self, planes: &[u8], out: &mut Vec<f32>) -> Result<()> {
        if planes.len() != self.plane_len() {
            return Err(Error::invalid(
                "planes",
                format!(
                    "expected {} values ({}x{}x{}), got {}",
                    self.plane_len(),
                    self.channels(),
                    self.spec.height,
                    self.spec.width,
                    planes.len()
                ),
            ));
        }
        normalize_planes(planes, &self.spec.mean, &self.spec.std, out);
        Ok(())
    }
}

/// `(x / 255 − mean[c]) / std[c]` for every value of `[C, H, W]` planes, appended to `out`.
/// `planes.len()` must be a multiple of `mean.len()`.
pub fn normalize_planes(planes: &[u8], mean: &[f32], std: &[f32], out: &mut Vec<f32>) {
    let c = mean.len().max(1);
    let n = planes.len() / c;
    out.reserve(planes.len());
    for (plane, (m, s)) in planes.chunks_exact(n.max(1)).zip(mean.iter().zip(std)) {
        out.extend(plane.iter().map(|&x| (f32::from(x) / 255.0 - m) / s));
    }
}

/// Nearest-neighbour resize of `depth` to `w × h`, as `round(clamp(d·scale / max) · 255)`.
fn depth_nearest(depth: DepthRef<'_>, w: usize, h: usize, max_m: f64, out: &mut [u8]) {
    let (sw, sh) = (depth.width as usize, depth.height as usize);
    // Pixel centres: source index = floor((dst + 0.5) · src / dst), always < src.
    let sx = |x: usize| ((2 * x + 1) * sw / (2 * w)).min(sw - 1);
    for y in 0..h {
        let row = ((2 * y + 1) * sh / (2 * h)).min(sh - 1) * sw;
        for x in 0..w {
            let d = f64::from(depth.data[row + sx(x)]);
            out[y * w + x] = ((d * depth.scale_m / max_m).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn spec(w: u32, h: u32, channels: Channels) -> Preprocess {
        let c = channels.count();
        Preprocess {
            width: w,
            height: h,
            resize: ResizeMode::Stretch,
            channels,
            mean: vec![0.5; c],
            std: vec![0.25; c],
            depth_max_m: (channels == Channels::Rgbd).then_some(2.0),
        }
    }

    /// A smooth RGB test pattern.
    fn pattern(w: u32, h: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                (x * 255 / w.max(2)) as u8,
                (y * 255 / h.max(2)) as u8,
                ((x + y) * 127 / (w + h)) as u8,
            ])
        })
    }

    fn planes_of(p: &mut Preprocessor, view: PixelsRef<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        p.planes(view, None, &mut out).unwrap();
        out
    }

    #[test]
    fn rgb_rgba_bgra_and_dynamic_images_give_the_same_planes() {
        let img = pattern(97, 61);
        let mut p = Preprocessor::new(&spec(32, 20, Channels::Rgb)).unwrap();
        let rgb = planes_of(
            &mut p,
            PixelsRef::new(97, 61, PixelFormat::Rgb8, img.as_raw()).unwrap(),
        );
        assert_eq!(rgb.len(), 3 * 32 * 20);
        let rgba: Vec<u8> = img
            .pixels()
            .flat_map(|px| [px[0], px[1], px[2], 200])
            .collect();
        let bgra: Vec<u8> = img
            .pixels()
            .flat_map(|px| [px[2], px[1], px[0], 7])
            .collect();
        let a = planes_of(
            &mut p,
            PixelsRef::new(97, 61, PixelFormat::Rgba8, &rgba).unwrap(),
        );
        let b = planes_of(
            &mut p,
            PixelsRef::new(97, 61, PixelFormat::Bgra8, &bgra).unwrap(),
        );
        assert_eq!(a, rgb);
        assert_eq!(b, rgb);
        // A 16-bit image goes through the conversion path and lands on the same planes.
        let wide = DynamicImage::ImageRgb8(img.clone()).to_rgb16();
        let mut c = Vec::new();
        p.planes_from_image(&DynamicImage::ImageRgb16(wide), None, &mut c)
            .unwrap();
        assert_eq!(c, rgb);
    }

    #[test]
    fn bilinear_resize_is_close_to_image_triangle_filter() {
        let img = pattern(200, 120);
        let mut p = Preprocessor::new(&spec(64, 40, Channels::Rgb)).unwrap();
        let ours = planes_of(
            &mut p,
            PixelsRef::new(200, 120, PixelFormat::Rgb8, img.as_raw()).unwrap(),
        );
        let theirs = image::imageops::resize(&img, 64, 40, image::imageops::FilterType::Triangle);
        let mut max_diff = 0i32;
        for (i, px) in theirs.pixels().enumerate() {
            for c in 0..3 {
                let d = i32::from(ours[c * 64 * 40 + i]) - i32::from(px[c]);
                max_diff = max_diff.max(d.abs());
            }
        }
        assert!(max_diff <= 3, "max difference {max_diff}");
    }

    #[test]
    fn gray_is_copied_to_three_planes_and_uniform_colours_survive() {
        let gray = vec![77u8; 50 * 30];
        let mut p = Preprocessor::new(&spec(16, 8, Channels::Rgb)).unwrap();
        let out = planes_of(
            &mut p,
            PixelsRef::new(50, 30, PixelFormat::Gray8, &gray).unwrap(),
        );
        assert!(out.iter().all(|&v| v == 77));
        let mut f = Vec::new();
        p.normalize(&out, &mut f).unwrap();
        let want = (77.0 / 255.0 - 0.5) / 0.25;
        assert!(f.iter().all(|v| (v - want).abs() < 1e-6));
        assert_eq!(f.len(), 3 * 16 * 8);
    }

    #[test]
    fn depth_plane_is_nearest_scaled_and_clamped() {
        let mut p = Preprocessor::new(&spec(4, 2, Channels::Rgbd)).unwrap();
        let rgb = vec![0u8; 8 * 4 * 3];
        // Left half 1 m (1000 mm), right half 5 m: 0.5 and clamped 1.0 of depth_max_m = 2.
        let depth: Vec<u16> = (0..32)
            .map(|i| if i % 8 < 4 { 1000 } else { 5000 })
            .collect();
        let mut out = Vec::new();
        p.planes(
            PixelsRef::new(8, 4, PixelFormat::Rgb8, &rgb).unwrap(),
            Some(DepthRef::new(8, 4, &depth, 0.001).unwrap()),
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[3 * 8..], &[128, 128, 255, 255, 128, 128, 255, 255]);
        let err = p
            .planes(
                PixelsRef::new(8, 4, PixelFormat::Rgb8, &rgb).unwrap(),
                None,
                &mut out,
            )
            .unwrap_err();
        assert!(err.to_string().contains("depth image is required"), "{err}");
    }

    #[test]
    fn bad_buffers_are_refused_with_the_reason() {
        let err = PixelsRef::new(0, 0, PixelFormat::Rgb8, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("0x0 has no pixels"), "{err}");
        let err = PixelsRef::new(20_000, 10_000, PixelFormat::Gray8, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("above the limit of 100 megapixels"), "{err}");
        let err = PixelsRef::new(4, 4, PixelFormat::Rgba8, &[0; 48])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("3 bytes per pixel given, Rgba8 has 4"),
            "{err}"
        );
        let err = DepthRef::new(2, 2, &[0; 3], 0.001).unwrap_err().to_string();
        assert!(err.contains("needs 4 values"), "{err}");
        let mut s = spec(8, 8, Channels::Rgb);
        s.resize = ResizeMode::Letterbox;
        let err = Preprocessor::new(&s).unwrap_err().to_string();
        assert!(err.contains("Letterbox is not supported"), "{err}");
    }

    fn png_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG whose header declares `w × h` (with a valid CRC) but holds a 1×1 image.
    pub(crate) fn png_declaring(w: u32, h: u32) -> Vec<u8> {
        let mut bytes = png_bytes(&DynamicImage::new_rgb8(1, 1));
        // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn decoding_reports_corrupt_truncated_empty_and_huge_images() {
        let name = Path::new("shot.png");
        let good = png_bytes(&DynamicImage::ImageRgb8(pattern(40, 30)));
        assert_eq!(decode_image(&good, name).unwrap().width(), 40);

        let err = decode_image(&good[..good.len() / 2], name)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("image shot.png: cannot decode 40x30 image"),
            "{err}"
        );

        let err = decode_image(b"definitely not an image", name)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a readable PNG/JPEG image"), "{err}");

        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(pattern(40, 30))
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        let err = decode_image(&jpeg[..jpeg.len() / 3], Path::new("cam.jpg"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("image cam.jpg: ") && err.contains("Jpeg"),
            "{err}"
        );

        let err = decode_image(&png_declaring(0, 0), name)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shot.png"), "{err}");

        let err = decode_image(&png_declaring(30_000, 30_000), name)
            .unwrap_err()
            .to_string();
        assert!(err.contains("900.0 megapixels, above the limit"), "{err}");
    }
}
