//! The one grounding pipeline: perception stages named by the manifest, their errors, spans
//! on request, and the depth rules that depend on the package.

use anyhow::Result;
use reticle_models::manifest::{Manifest, ModelFile, OcrStage, Perception};
use reticle_models::preprocess::DepthRef;
use reticle_models::text::OcrConfig;
use reticle_runtime::perception::{OCR_DETECTOR, OCR_RECOGNIZER};
use reticle_runtime::{Frame, GroundOptions, ImageInput, Pipeline, Provider};

use crate::util::{self, Fixture, INSTRUCTION};

fn with_ocr(dir: &std::path::Path, det: (&str, &str), rec: (&str, &str)) -> Result<()> {
    let mut m = Manifest::load(dir)?;
    let file = |(f, sha): (&str, &str)| ModelFile {
        file: f.into(),
        sha256: sha.into(),
    };
    m.perception = Perception {
        ocr: Some(OcrStage {
            detector: file(det),
            recognizer: file(rec),
            config: OcrConfig::default(),
        }),
        icons: None,
    };
    m.save(dir)?;
    Ok(())
}

#[test]
fn a_package_with_an_ocr_stage_reads_text_before_its_policy() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    with_ocr(pkg.path(), OCR_DETECTOR, OCR_RECOGNIZER)?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    assert!(p.reader().is_some());
    let img = util::image();
    let out = p.ground(
        Frame::rgb(&img),
        INSTRUCTION,
        &GroundOptions {
            spans: true,
            ..GroundOptions::greedy()
        },
    )?;
    assert!(out.answer.is_ok());
    assert!(out.spans.is_some());
    assert!(out.timings.perceive > std::time::Duration::ZERO);
    // Without the request the spans stay out of the answer (they can be large).
    let out = p.ground(Frame::rgb(&img), INSTRUCTION, &GroundOptions::greedy())?;
    assert!(out.spans.is_none());
    Ok(())
}

#[test]
fn spans_on_request_from_a_package_without_ocr() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    assert!(p.reader().is_none());
    let img = util::image();
    let out = p.ground(Frame::rgb(&img), INSTRUCTION, &GroundOptions::greedy())?;
    assert_eq!(out.timings.perceive, std::time::Duration::ZERO);
    let out = p.ground(
        Frame::rgb(&img),
        INSTRUCTION,
        &GroundOptions {
            spans: true,
            ..GroundOptions::greedy()
        },
    )?;
    assert_eq!(out.spans, Some(vec![]));
    Ok(())
}

#[test]
fn a_missing_or_wrong_ocr_file_is_named_with_the_fix() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    with_ocr(
        pkg.path(),
        ("PP-OCRv9_det.onnx", OCR_DETECTOR.1),
        OCR_RECOGNIZER,
    )?;
    let err = Pipeline::load(pkg.path(), Provider::Cpu)
        .unwrap_err()
        .to_string();
    for n in [
        "perception.ocr",
        "PP-OCRv9_det.onnx not found",
        "scripts/setup.sh runtime",
    ] {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    // A file of that name in the package folder is found first, and its digest checked.
    std::fs::write(pkg.path().join(OCR_DETECTOR.0), b"not the detector")?;
    with_ocr(pkg.path(), OCR_DETECTOR, OCR_RECOGNIZER)?;
    let err = Pipeline::load(pkg.path(), Provider::Cpu)
        .unwrap_err()
        .to_string();
    for n in ["PP-OCRv6_det_small.onnx has SHA-256", OCR_DETECTOR.1] {
        assert!(err.contains(n), "`{n}` not in: {err}");
    }
    // A malformed digest is a manifest error naming the field.
    std::fs::remove_file(pkg.path().join(OCR_DETECTOR.0))?;
    let text = std::fs::read_to_string(pkg.path().join("model.json"))?;
    std::fs::write(
        pkg.path().join("model.json"),
        text.replace(OCR_RECOGNIZER.1, "abc"),
    )?;
    let err = Pipeline::load(pkg.path(), Provider::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("perception.ocr.recognizer.sha256"), "{err}");
    Ok(())
}

#[test]
fn depth_is_refused_by_an_rgb_package() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let img = util::image();
    let raw = vec![1000u16; 200 * 100];
    let frame = Frame {
        image: ImageInput::Image(&img),
        depth: Some(DepthRef::new(200, 100, &raw, 0.001)?),
    };
    let err = p
        .ground(frame, INSTRUCTION, &GroundOptions::greedy())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not use a depth image"), "{err}");
    Ok(())
}

#[test]
fn a_screen_session_reads_successive_frames_like_single_calls() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    with_ocr(pkg.path(), OCR_DETECTOR, OCR_RECOGNIZER)?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let opts = GroundOptions {
        spans: true,
        ..GroundOptions::greedy()
    };
    let a = util::image();
    let mut b = a.to_rgb8();
    for x in 20..60 {
        b.put_pixel(x, 40, image::Rgb([0, 0, 0]));
    }
    let b = image::DynamicImage::ImageRgb8(b);
    let mut session = p.screen_session();
    for img in [&a, &a, &b, &a] {
        let got = session.ground(Frame::rgb(img), INSTRUCTION, &opts)?;
        let want = p.ground(Frame::rgb(img), INSTRUCTION, &opts)?;
        assert_eq!(got.spans, want.spans);
        assert_eq!(got.text, want.text);
    }
    Ok(())
}
