use image::{DynamicImage, Rgb, RgbImage};
use reticle_models::geometry::BBox;
use reticle_suites::font::{fonts, Ink, Weight};

use crate::util::{reader, recall, ui_screen};

#[test]
fn reads_most_labels_of_synthetic_screens() {
    let r = reader();
    let mut found = 0;
    let mut total = 0;
    let mut iou = 0.0;
    for (i, (size, scale)) in [
        ([1280, 800], 1.0),
        ([1920, 1080], 1.25),
        ([1280, 800], 1.0),
        ([1920, 1080], 2.0),
    ]
    .into_iter()
    .enumerate()
    {
        let (img, labels) = ui_screen(4242, i, size, scale);
        assert!(labels.len() > 5, "screen {i} has {} labels", labels.len());
        let reading = r.read(&DynamicImage::ImageRgb8(img)).unwrap();
        let (f, n, m) = recall(&reading.spans, &labels);
        eprintln!("screen {i} {size:?} x{scale}: {f}/{n} labels, IoU {m:.2}");
        found += f;
        total += n;
        iou += m * f as f64;
    }
    let rate = found as f64 / total as f64;
    let iou = iou / found as f64;
    eprintln!("recall {rate:.3} of {total}, IoU {iou:.2}");
    assert!(rate >= 0.9, "recall {rate:.3} ({found}/{total})");
    assert!(iou >= 0.5, "mean IoU of found labels {iou:.2}");
}

/// A white image with `text` drawn at 16 px starting at x = 20, and the ink boxes of each
/// space-separated word.
fn line_image(text: &str) -> (RgbImage, Vec<(String, BBox)>) {
    let f = fonts().unwrap();
    let mut img = RgbImage::from_pixel(640, 60, Rgb([250, 250, 250]));
    let ink = Ink::new(Weight::Regular, 16.0, [20, 20, 20]);
    f.draw_centered_v(&mut img, ink, 20.0, 30.0, text);
    let mut words = Vec::new();
    let mut x = 20.0;
    for (i, w) in text.split(' ').enumerate() {
        if i > 0 {
            x += f.width(Weight::Regular, 16.0, " ");
        }
        let width = f.width(Weight::Regular, 16.0, w);
        words.push((
            w.to_string(),
            BBox::new(f64::from(x), 22.0, f64::from(x + width), 38.0),
        ));
        x += width;
    }
    (img, words)
}

#[test]
fn word_boxes_split_a_menu_bar_line() {
    let (img, words) = line_image("File  Edit  Insert Format Tools  Help");
    let reading = reader().read(&DynamicImage::ImageRgb8(img)).unwrap();
    let all: Vec<_> = reading.spans.iter().flat_map(|s| s.words.iter()).collect();
    for (text, truth) in words.iter().filter(|(w, _)| !w.is_empty()) {
        let got = all
            .iter()
            .find(|w| w.text == *text)
            .unwrap_or_else(|| panic!("word {text} not read: {:?}", reading.spans));
        let iou_x = {
            let inter = (got.bbox.x2.min(truth.x2) - got.bbox.x1.max(truth.x1)).max(0.0);
            inter / (got.bbox.x2.max(truth.x2) - got.bbox.x1.min(truth.x1))
        };
        assert!(
            iou_x > 0.6,
            "{text}: word box {:?} vs drawn {:?} (x-IoU {iou_x:.2})",
            got.bbox,
            truth
        );
        assert!(
            got.bbox.contains(&truth.center()),
            "{text}: {:?} misses the word's centre",
            got.bbox
        );
    }
}

#[test]
fn reads_non_latin_letters() {
    let (img, _) = line_image("Grüße aus Köln — déjà vu, 12,50 €");
    let reading = reader().read(&DynamicImage::ImageRgb8(img)).unwrap();
    let text: String = reading
        .spans
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for w in ["Grüße", "Köln", "déjà", "12,50"] {
        assert!(text.contains(w), "{w} not in {text:?}");
    }
}

#[test]
fn pixel_formats_read_alike() {
    let (img, _) = line_image("Save as PDF");
    let rgb = DynamicImage::ImageRgb8(img);
    let want = reader().read(&rgb).unwrap().spans;
    assert!(!want.is_empty());
    for other in [
        DynamicImage::ImageRgba8(rgb.to_rgba8()),
        DynamicImage::ImageRgb16(rgb.to_rgb16()),
        DynamicImage::ImageLuma8(rgb.to_luma8()),
    ] {
        let got = reader().read(&other).unwrap().spans;
        let texts = |s: &[reticle_models::text::TextSpan]| {
            s.iter().map(|x| x.text.clone()).collect::<Vec<_>>()
        };
        assert_eq!(texts(&got), texts(&want), "{:?}", other.color());
    }
    // BGRA screenshots (xcap on some platforms) through the raw-pixel input.
    let rgba = rgb.to_rgba8();
    let mut bgra = rgba.as_raw().clone();
    for px in bgra.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
    let pixels = reticle_models::preprocess::PixelsRef::new(
        rgba.width(),
        rgba.height(),
        reticle_models::preprocess::PixelFormat::Bgra8,
        &bgra,
    )
    .unwrap();
    let got = reader().read(pixels).unwrap().spans;
    assert_eq!(got, want);
}

#[test]
fn a_small_dialog_on_a_plain_desktop_is_read() {
    // Small text in the middle of a uniform 1920×1080 desktop (a zenity dialog under Xvfb):
    // on the whole frame the detector's map stays under its threshold; the reader detects on
    // the non-flat part of the frame only.
    let (line, _) = line_image("New name for the report:");
    let mut desk = RgbImage::from_pixel(1920, 1080, Rgb([59, 110, 143]));
    image::imageops::replace(&mut desk, &line, 700, 500);
    let reading = reader().read(&DynamicImage::ImageRgb8(desk)).unwrap();
    let text: Vec<_> = reading.spans.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(text, ["New name for the report:"], "{:?}", reading.spans);
    let b = reading.spans[0].bbox;
    assert!(
        b.x1 > 700.0 && b.y1 > 500.0 && b.x2 < 1340.0 && b.y2 < 560.0,
        "{b:?}"
    );
}
