use image::{DynamicImage, Rgb, RgbImage};
use reticle_models::text::OcrConfig;
use reticle_runtime::perception::{OcrFiles, ReaderOptions, TextReader};
use reticle_runtime::Provider;

use crate::util::reader;

#[test]
fn tiny_and_blank_images_read_nothing() {
    for (w, h) in [(1, 1), (3, 200), (200, 3), (64, 64)] {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb([255, 255, 255])));
        let r = reader().read(&img).unwrap();
        assert!(r.spans.is_empty(), "{w}x{h}: {:?}", r.spans);
        assert_eq!((r.width, r.height), (w, h));
    }
}

#[test]
fn huge_images_are_refused_before_allocating() {
    // A 20000×20000 buffer would be 1.2 GB; the reader refuses by size alone. The pixel
    // buffer here is a lazily-zeroed view that is never touched.
    let img = DynamicImage::new_luma8(20_000, 20_000);
    let err = reader().read(&img).unwrap_err().to_string();
    assert!(
        err.contains("400.0 megapixels") && err.contains("at most 35.0"),
        "{err}"
    );
}

#[test]
fn corrupt_graphs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("det.onnx");
    std::fs::write(&bad, b"\x08\x01garbage").unwrap();
    let good = OcrFiles::default_files().unwrap();
    let files = OcrFiles {
        detector: bad.clone(),
        recognizer: good.recognizer.clone(),
    };
    let opts = ReaderOptions {
        provider: Provider::Cpu,
        intra_threads: Some(1),
    };
    let err = TextReader::load(&files, &OcrConfig::default(), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("det.onnx"), "{err}");
    // The graphs swapped: the recogniser is not a detector (no character table is needed
    // there, but its output is not a probability map of the image's size).
    let swapped = OcrFiles {
        detector: good.detector.clone(),
        recognizer: good.detector.clone(),
    };
    let err = TextReader::load(&swapped, &OcrConfig::default(), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("character"), "{err}");
}

#[test]
fn bad_config_is_refused() {
    let good = OcrFiles::default_files().unwrap();
    let cfg = OcrConfig {
        det_scale: 0.0,
        ..OcrConfig::default()
    };
    let err = TextReader::load(&good, &cfg, &ReaderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("det_scale"), "{err}");
}
