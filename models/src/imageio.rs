//! Image files in and out: the one place where reticle decodes a frame, a mask or a depth
//! image, and where it encodes an image it writes for a person to look at.
//!
//! Decoding is bounded and oriented:
//! - the header is read under a small metadata budget ([`METADATA_BUDGET`]): a PNG whose
//!   `iCCP`, `zTXt` or `iTXt` chunk inflates to a gigabyte costs at most that much memory
//!   (the `png` decoder drops an ICC profile that does not fit; reticle never uses it);
//! - images with a zero side or above [`MAX_PIXELS`] are refused before any pixel buffer is
//!   allocated, and the pixel buffer itself is reserved against `image::Limits`;
//! - the EXIF orientation of the file (JPEG `APP1`, PNG `eXIf`) is applied, so a phone photo
//!   taken upright is grounded upright and its coordinates are those a viewer shows.
//!
//! Every decode path goes through [`open`], [`decode`] or [`dimensions`]: the CLI, the
//! service, evaluation, dataset checks, masks and depth images.

use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Error, Result};

/// The largest image accepted, in pixels (width × height): 100 megapixels.
pub const MAX_PIXELS: u64 = 100_000_000;

/// The largest image file read by [`open`], in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Bytes the decoder may allocate for pixels: a [`MAX_PIXELS`] image at 16 bits × 4 channels.
pub const MAX_DECODE_ALLOC: u64 = MAX_PIXELS * 8;

/// Bytes the decoder may allocate for everything that is not pixels (PNG text and ICC
/// chunks, row buffers) while reading the header. Real ICC profiles are well under 4 MiB.
pub const METADATA_BUDGET: u64 = 16 << 20;

fn image_err(name: &Path, message: String) -> Error {
    Error::Image {
        path: name.to_path_buf(),
        message,
    }
}

/// Checks a size against the zero and [`MAX_PIXELS`] limits.
pub(crate) fn check_size(what: &'static str, width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(
            what,
            format!("{width}x{height} has no pixels"),
        ));
    }
    let n = u64::from(width) * u64::from(height);
    if n > MAX_PIXELS {
        return Err(Error::invalid(
            what,
            format!(
                "{width}x{height} is {:.1} megapixels, above the limit of {} megapixels",
                n as f64 / 1e6,
                MAX_PIXELS / 1_000_000
            ),
        ));
    }
    Ok(())
}

fn header_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(METADATA_BUDGET);
    limits
}

/// A decoder positioned after the header, with its size (as stored) and orientation.
fn open_decoder<'a, R: BufRead + Seek + 'a>(
    reader: ImageReader<R>,
    name: &Path,
) -> Result<(impl ImageDecoder + 'a, Orientation)> {
    let mut reader = reader
        .with_guessed_format()
        .map_err(|e| image_err(name, format!("cannot read: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
        _ => {
            return Err(image_err(
                name,
                "not a readable PNG/JPEG image: unknown file signature".into(),
            ))
        }
    }
    reader.limits(header_limits());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_err(name, format!("not a readable PNG/JPEG image: {e}")))?;
    let (w, h) = decoder.dimensions();
    check_size("image", w, h).map_err(|e| image_err(name, e.to_string()))?;
    // A malformed EXIF block is not worth refusing the image for: it is shown unrotated,
    // as every viewer that cannot read the block shows it.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((decoder, orientation))
}

/// The size of `(w, h)` once `orientation` is applied.
fn oriented_size((w, h): (u32, u32), orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}

fn finish<'a>(
    mut decoder: impl ImageDecoder + 'a,
    orientation: Orientation,
    name: &Path,
) -> Result<DynamicImage> {
    let (w, h) = decoder.dimensions();
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let too_big =
        |e: image::ImageError| image_err(name, format!("cannot decode {w}x{h} image: {e}"));
    limits.reserve(decoder.total_bytes()).map_err(too_big)?;
    decoder.set_limits(limits).map_err(too_big)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(too_big)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Decodes PNG or JPEG bytes (`name` is used in errors) with bounded memory and the EXIF
/// orientation applied.
pub fn decode(bytes: &[u8], name: &Path) -> Result<DynamicImage> {
    let (decoder, orientation) = open_decoder(ImageReader::new(Cursor::new(bytes)), name)?;
    finish(decoder, orientation, name)
}

/// Reads and decodes an image file (see [`decode`]); files above [`MAX_FILE_BYTES`] are
/// refused without being read.
pub fn open(path: &Path) -> Result<DynamicImage> {
    let file = open_file(path)?;
    let (decoder, orientation) = open_decoder(ImageReader::new(BufReader::new(file)), path)?;
    finish(decoder, orientation, path)
}

fn open_file(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > MAX_FILE_BYTES {
        return Err(image_err(
            path,
            format!("file is {len} bytes, above the limit of {MAX_FILE_BYTES}"),
        ));
    }
    Ok(file)
}

/// The size of the image in `bytes` as it will be decoded (orientation applied), from its
/// header only: no pixel is decoded.
pub fn dimensions(bytes: &[u8], name: &Path) -> Result<(u32, u32)> {
    let (decoder, orientation) = open_decoder(ImageReader::new(Cursor::new(bytes)), name)?;
    Ok(oriented_size(decoder.dimensions(), orientation))
}

/// [`dimensions`] of an image file.
pub fn open_dimensions(path: &Path) -> Result<(u32, u32)> {
    let file = open_file(path)?;
    let (decoder, orientation) = open_decoder(ImageReader::new(BufReader::new(file)), path)?;
    Ok(oriented_size(decoder.dimensions(), orientation))
}

/// The format an output path asks for by its extension (`.png`, `.jpg`, `.jpeg`, any case).
pub fn output_format(path: &Path) -> Result<ImageFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(ImageFormat::Png),
        Some("jpg" | "jpeg") => Ok(ImageFormat::Jpeg),
        _ => Err(Error::invalid(
            "output image",
            format!(
                "{}: unknown image extension (use .png, .jpg or .jpeg)",
                path.display()
            ),
        )),
    }
}

/// Checks an output image path before any work: a known extension and an existing folder.
pub fn check_output(path: &Path) -> Result<ImageFormat> {
    let format = output_format(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::invalid(
            "output image",
            format!(
                "{}: folder {} does not exist",
                path.display(),
                dir.display()
            ),
        ));
    }
    Ok(format)
}

/// Encodes `image` in the format its path's extension names and writes it atomically;
/// refuses an unknown extension and a missing folder (nothing is created).
pub fn save_rgb(path: &Path, image: &image::RgbImage) -> Result<()> {
    let format = check_output(path)?;
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .map_err(|e| image_err(path, format!("cannot encode: {e}")))?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// A 16-bit single-channel image: a depth record's file (camera-frame z in millimetres, 0 = no
/// reading), as the `spatial` suite writes and `reticle robot` reads.
pub type Depth16 = image::ImageBuffer<image::Luma<u16>, Vec<u16>>;

/// Reads a 16-bit depth PNG (bounded and checked like every image, see [`open`]).
pub fn read_depth(path: &Path) -> Result<Depth16> {
    Ok(open(path)?.into_luma16())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG of `img` with an EXIF `APP1` segment carrying `orientation`.
    fn jpeg_with_orientation(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        // Big-endian TIFF header, one IFD entry: tag 0x0112 (Orientation), SHORT, count 1.
        let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let len = (app1.len() + 2) as u16;
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_6_is_applied() {
        // 40 wide, 20 high, with a bright left half: rotated 90° clockwise it is 20 wide,
        // 40 high, bright at the top.
        let img = image::RgbImage::from_fn(40, 20, |x, _| {
            if x < 20 {
                image::Rgb([250, 250, 250])
            } else {
                image::Rgb([5, 5, 5])
            }
        });
        let bytes = jpeg_with_orientation(&img, 6);
        let name = Path::new("phone.jpg");
        assert_eq!(dimensions(&bytes, name).unwrap(), (20, 40));
        let out = decode(&bytes, name).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), (20, 40));
        assert!(out.get_pixel(10, 5)[0] > 200, "top should be bright");
        assert!(out.get_pixel(10, 35)[0] < 50, "bottom should be dark");
        // Orientation 1 leaves it as stored.
        let plain = jpeg_with_orientation(&img, 1);
        let plain = decode(&plain, name).unwrap();
        assert_eq!((plain.width(), plain.height()), (40, 20));
    }

    #[test]
    fn non_images_are_refused_naming_the_file() {
        let err = decode(b"hello, not an image", Path::new("x.png"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("image x.png: "), "{err}");
        let err = dimensions(b"", Path::new("e.png")).unwrap_err().to_string();
        assert!(err.contains("e.png"), "{err}");
    }

    #[test]
    fn output_paths_need_a_known_extension_and_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::new(4, 4);
        for (name, format) in [("a.png", ImageFormat::Png), ("b.JPG", ImageFormat::Jpeg)] {
            let path = dir.path().join(name);
            save_rgb(&path, &img).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(image::guess_format(&bytes).unwrap(), format, "{name}");
        }
        let err = save_rgb(&dir.path().join("c.gif"), &img).unwrap_err();
        assert!(err.to_string().contains("unknown image extension"), "{err}");
        let missing = dir.path().join("nope/d.png");
        let err = save_rgb(&missing, &img).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("nope").exists());
    }
}
