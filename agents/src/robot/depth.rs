//! Depth images: reading 16-bit PNGs (and refusing 8-bit ones, whose values are not
//! distances), and a robust depth at a pixel — the median of the valid (non-zero) values in
//! a small window, so that holes and single-pixel noise do not move the target.

use std::path::Path;

use image::DynamicImage;
use reticle_models::imageio::Depth16;
use reticle_models::preprocess::{decode_image, open_image};
use serde::Serialize;

use super::error::{Error, Result};

/// Largest accepted median window side.
pub const MAX_WINDOW: u32 = 101;

/// Reads an aligned depth image: a single-channel 16-bit PNG (0 = no reading).
pub fn read_depth_png(path: &Path) -> Result<Depth16> {
    let what = format!("depth image {}", path.display());
    let image = open_image(path).map_err(|e| Error::RobotImage {
        what: what.clone(),
        message: strip_image_prefix(&e, path),
    })?;
    into_depth16(image, &what)
}

/// Decodes an in-memory depth PNG (the HTTP service's payload); `name` is used in errors.
pub fn decode_depth_png(bytes: &[u8], name: &str) -> Result<Depth16> {
    let what = format!("depth image {name}");
    let image = decode_image(bytes, Path::new(name)).map_err(|e| Error::RobotImage {
        what: what.clone(),
        message: strip_image_prefix(&e, Path::new(name)),
    })?;
    into_depth16(image, &what)
}

/// `reticle_models` image errors already say `image PATH: …`; keep only the message.
fn strip_image_prefix(e: &reticle_models::Error, path: &Path) -> String {
    match e {
        reticle_models::Error::Image { message, .. } => message.clone(),
        reticle_models::Error::Io { cause, .. } => cause.to_string(),
        other => {
            let s = other.to_string();
            let prefix = format!("image {}: ", path.display());
            s.strip_prefix(&prefix).map_or(s.clone(), str::to_string)
        }
    }
}

/// The one strict depth rule (`reticle_runtime::depth`), with this module's error type.
fn into_depth16(image: DynamicImage, what: &str) -> Result<Depth16> {
    reticle_runtime::depth::as_depth16(image).map_err(|message| Error::RobotImage {
        what: what.to_string(),
        message,
    })
}

/// The robust depth read at one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthSample {
    /// Median of the valid values, in depth units (multiply by the depth scale).
    pub units: f64,
    /// Valid (non-zero) values in the window.
    pub valid_pixels: usize,
    /// Values in the window (fewer than `window²` at the image border).
    pub window_pixels: usize,
}

/// The median of the non-zero depth values in the `window × window` square centred on pixel
/// `(u, v)` (clipped to the image). With an even number of valid values, the mean of the two
/// middle ones. `pixel` is only used in the error message.
pub fn median_depth(
    depth: &Depth16,
    (u, v): (u32, u32),
    window: u32,
    pixel: [f64; 2],
) -> Result<DepthSample> {
    check_window(window)?;
    let (w, h) = depth.dimensions();
    if u >= w || v >= h {
        return Err(Error::RobotImage {
            what: "depth image".into(),
            message: format!("pixel ({u}, {v}) is outside the {w}x{h} depth image"),
        });
    }
    let half = window / 2;
    let (u0, u1) = (u.saturating_sub(half), (u + half).min(w - 1));
    let (v0, v1) = (v.saturating_sub(half), (v + half).min(h - 1));
    let mut values: Vec<u16> = Vec::with_capacity((window * window) as usize);
    for y in v0..=v1 {
        for x in u0..=u1 {
            values.push(depth.get_pixel(x, y).0[0]);
        }
    }
    let window_pixels = values.len();
    values.retain(|&d| d != 0);
    if values.is_empty() {
        return Err(Error::NoValidDepth {
            pixel,
            window,
            n_pixels: window_pixels,
        });
    }
    values.sort_unstable();
    let n = values.len();
    let units = if n % 2 == 1 {
        f64::from(values[n / 2])
    } else {
        (f64::from(values[n / 2 - 1]) + f64::from(values[n / 2])) / 2.0
    };
    Ok(DepthSample {
        units,
        valid_pixels: n,
        window_pixels,
    })
}

/// The window must be odd (so it has a centre pixel) and at most [`MAX_WINDOW`].
pub fn check_window(window: u32) -> Result<()> {
    if window % 2 == 0 || window > MAX_WINDOW {
        return Err(Error::RobotOption {
            what: "window",
            message: format!(
                "the depth window side must be odd and in 1..={MAX_WINDOW}, got {window}"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma};

    fn depth_from(rows: &[&[u16]]) -> Depth16 {
        let h = rows.len() as u32;
        let w = rows[0].len() as u32;
        ImageBuffer::from_fn(w, h, |x, y| Luma([rows[y as usize][x as usize]]))
    }

    #[test]
    fn median_ignores_holes() {
        let d = depth_from(&[
            &[0, 0, 0, 0, 0],
            &[0, 800, 0, 810, 0],
            &[0, 0, 805, 0, 0],
            &[0, 0, 0, 0, 0],
            &[9000, 0, 0, 0, 0],
        ]);
        // 3x3 around (2, 2): 800, 810, 805, 9000 is outside. Median of {800, 805, 810} = 805.
        let s = median_depth(&d, (2, 2), 3, [2.5, 2.5]).unwrap();
        assert_eq!((s.units, s.valid_pixels, s.window_pixels), (805.0, 3, 9));
        // 5x5: {800, 805, 810, 9000} → mean of the middle two = 807.5; the outlier is ignored.
        let s = median_depth(&d, (2, 2), 5, [2.5, 2.5]).unwrap();
        assert_eq!((s.units, s.valid_pixels), (807.5, 4));
        // At the corner the window is clipped: 3x3 around (0, 0) sees 4 pixels, one valid.
        let s = median_depth(&d, (0, 0), 3, [0.5, 0.5]).unwrap();
        assert_eq!((s.units, s.valid_pixels, s.window_pixels), (800.0, 1, 4));
        // Window 1 is the pixel itself.
        assert_eq!(
            median_depth(&d, (0, 4), 1, [0.5, 4.5]).unwrap().units,
            9000.0
        );
    }

    #[test]
    fn no_valid_depth_is_an_error_naming_the_pixel() {
        let d = depth_from(&[&[0, 0, 0, 500], &[0, 0, 0, 0], &[0, 0, 0, 0]]);
        let e = median_depth(&d, (0, 1), 3, [0.75, 1.5]).unwrap_err();
        assert!(
            matches!(e, Error::NoValidDepth { n_pixels: 6, .. }),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("(0.8, 1.5)") && msg.contains("3x3"), "{msg}");
    }

    #[test]
    fn bad_windows_and_pixels_are_errors() {
        let d = depth_from(&[&[1, 2], &[3, 4]]);
        for w in [0, 2, 103] {
            let e = median_depth(&d, (0, 0), w, [0.5, 0.5]).unwrap_err();
            assert!(matches!(e, Error::RobotOption { .. }), "{e:?}");
        }
        assert!(median_depth(&d, (2, 0), 1, [2.5, 0.5]).is_err());
    }

    #[test]
    fn eight_bit_pngs_are_refused_and_sixteen_bit_ones_read() {
        let dir = tempfile::tempdir().unwrap();
        let p8 = dir.path().join("d8.png");
        image::GrayImage::from_pixel(4, 3, Luma([7]))
            .save(&p8)
            .unwrap();
        let e = read_depth_png(&p8).unwrap_err();
        assert!(matches!(e, Error::RobotImage { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("d8.png") && msg.contains("16-bit"), "{msg}");

        let p16 = dir.path().join("d16.png");
        let d: Depth16 = ImageBuffer::from_pixel(4, 3, Luma([1234]));
        d.save(&p16).unwrap();
        assert_eq!(read_depth_png(&p16).unwrap(), d);
        let bytes = std::fs::read(&p16).unwrap();
        assert_eq!(decode_depth_png(&bytes, "request").unwrap(), d);
        let e = decode_depth_png(b"not a png", "request")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("depth image request:"), "{e}");

        let e = read_depth_png(&dir.path().join("missing.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.png"), "{e}");
    }
}
