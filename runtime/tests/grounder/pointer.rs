//! Pointer packages (`architecture: "pointer"`) through the one pipeline, on graphs written by
//! `scripts/make_pointer_fixture.py`: text logits `5 · span_feats[..., 1]` (a label the
//! instruction names wins), patch logits from a 1×1 convolution that favours red.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use image::{DynamicImage, Rgb, RgbImage};
use reticle_models::geometry::BBox;
use reticle_models::grammar::{self, Value};
use reticle_models::manifest::{Manifest, ModelFile, OcrStage, Perception};
use reticle_models::text::{OcrConfig, TextSpan, Word};
use reticle_runtime::perception::{OCR_DETECTOR, OCR_RECOGNIZER};
use reticle_runtime::{
    CandidateKind, DecodeOptions, Frame, GroundOptions, Pipeline, Provider, StopReason,
};
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};

use crate::util;

/// A pointer package made by the fixture script with `args`.
fn package(args: &[&str]) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make_pointer_fixture.py");
    let out = Command::new(util::python())
        .arg(&script)
        .arg(dir.path())
        .args(args)
        .output()
        .context("running the pointer fixture script")?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(dir)
}

fn span(text: &str, bbox: BBox) -> TextSpan {
    TextSpan {
        icon: None,
        text: text.into(),
        bbox,
        score: 0.9,
        words: vec![Word {
            text: text.into(),
            bbox,
        }],
    }
}

/// A grey 320×240 screen with a red square at (240..280, 40..80).
fn screen() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(320, 240, |x, y| {
        if (240..280).contains(&x) && (40..80).contains(&y) {
            Rgb([250, 10, 10])
        } else {
            Rgb([128, 128, 128])
        }
    }))
}

fn load_err(dir: &Path) -> String {
    match Pipeline::load(dir, Provider::Cpu) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_label_the_instruction_names_is_clicked_with_its_confidence() -> Result<()> {
    let pkg = package(&[])?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let cancel = BBox::new(100.0, 150.0, 160.0, 170.0);
    let spans = [
        span("Save", BBox::new(20.0, 150.0, 60.0, 170.0)),
        span("Cancel", cancel),
    ];
    let img = screen();
    let out = p.ground_with_spans(
        Frame::rgb(&img),
        "click the Cancel button",
        &spans,
        &GroundOptions::greedy(),
    )?;
    let Ok(Value::Points(points)) = &out.answer else {
        bail!("not a point: {:?}", out.answer);
    };
    assert!(cancel.contains(&points[0]), "{points:?}");
    // The answer is also written in the grammar, in the package's frame (norm1000).
    let parsed = grammar::parse(&out.text)?;
    let back = out
        .frame
        .answer_to_original(parsed.value.first_point().context("no point")?);
    assert!(cancel.contains(&back), "{} → {back:?}", out.text);
    assert_eq!(out.stop, StopReason::Selected);
    let confidence = out.confidence.context("no confidence")?;
    // e^5 against 48 patches near e^0 and one other text candidate at e^0.
    assert!((0.6..0.9).contains(&confidence), "{confidence}");
    // Serialized for the CLI and the service.
    let json = serde_json::to_value(&out)?;
    assert_eq!(json["stop"], "selected");
    assert_eq!(json["candidates"][0]["kind"], "line");
    assert_eq!(json["candidates"][0]["text"], "Cancel");
    assert!(json["confidence"].is_number());
    let top = out.candidates.context("no candidates")?;
    assert_eq!(top.len(), 5);
    assert_eq!(top[0].kind, CandidateKind::Line);
    assert_eq!(top[0].text.as_deref(), Some("Cancel"));
    // The confidence is the chosen region's mass: the label's probability plus the patches
    // it covers (models::pointer::select).
    assert!(
        confidence >= top[0].probability,
        "{confidence} < {}",
        top[0].probability
    );
    assert!(top.windows(2).all(|w| w[0].probability >= w[1].probability));
    Ok(())
}

#[test]
fn without_text_the_reddest_patch_wins_unconfidently() -> Result<()> {
    let pkg = package(&[])?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let img = screen();
    let out = p.ground(
        Frame::rgb(&img),
        "click the red square",
        &GroundOptions::greedy(),
    )?;
    let Ok(Value::Points(points)) = &out.answer else {
        bail!("not a point: {:?}", out.answer);
    };
    // The red square covers 2×2 patches of 40×40 original pixels; offsets stay within a cell.
    assert!(
        BBox::new(200.0, 0.0, 320.0, 120.0).contains(&points[0]),
        "{points:?}"
    );
    let top = out.candidates.context("no candidates")?;
    assert!(top
        .iter()
        .all(|c| c.kind == CandidateKind::Patch && c.text.is_none()));
    assert!(out.confidence.context("no confidence")? < 0.2);
    Ok(())
}

/// A light 320×240 screen with one outlined 16-px box (a checkbox) at (100..116, 60..76).
fn checkbox_screen() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(320, 240, |x, y| {
        let on_x = (100..116).contains(&x) && (y == 60 || y == 75);
        let on_y = (60..76).contains(&y) && (x == 100 || x == 115);
        if on_x || on_y {
            Rgb([40, 40, 40])
        } else {
            Rgb([235, 235, 235])
        }
    }))
}

#[test]
fn an_element_proposal_is_a_candidate_when_the_manifest_keeps_them() -> Result<()> {
    let img = checkbox_screen();
    let pkg = package(&["--max-elements", "4", "--element-logit", "8"])?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let out = p.ground(Frame::rgb(&img), "tick the box", &GroundOptions::greedy())?;
    let top = out.candidates.context("no candidates")?;
    assert_eq!(top[0].kind, CandidateKind::Element, "{top:?}");
    assert_eq!(top[0].text.as_deref(), Some("element square frame"));
    // The click is the box's centre (its edges run from 100 to 116 inclusive).
    let Ok(Value::Points(points)) = &out.answer else {
        bail!("not a point: {:?}", out.answer);
    };
    assert!(
        BBox::new(104.0, 64.0, 112.0, 72.0).contains(&points[0]),
        "{points:?}"
    );
    assert!(out.confidence.context("no confidence")? > 0.5);

    // A package made before element proposals (max_elements 0) never sees one.
    let old = package(&["--element-logit", "8"])?;
    let p = Pipeline::load(old.path(), Provider::Cpu)?;
    let out = p.ground(Frame::rgb(&img), "tick the box", &GroundOptions::greedy())?;
    let top = out.candidates.context("no candidates")?;
    assert!(
        top.iter().all(|c| c.kind == CandidateKind::Patch),
        "{top:?}"
    );
    Ok(())
}

#[test]
fn sampling_is_seeded() -> Result<()> {
    let pkg = package(&[])?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let img = screen();
    let opts = |seed| GroundOptions {
        decode: DecodeOptions {
            temperature: 5.0,
            seed,
            ..DecodeOptions::greedy()
        },
        spans: false,
    };
    let text = |seed| -> Result<String> {
        Ok(p.ground(Frame::rgb(&img), "click anything", &opts(seed))?
            .text)
    };
    assert_eq!(text(7)?, text(7)?);
    // At a high temperature over 48 near-equal patches, 8 seeds do not all agree.
    let all: std::collections::BTreeSet<String> = (0..8).map(text).collect::<Result<_>>()?;
    assert!(all.len() > 1, "{all:?}");
    Ok(())
}

#[test]
fn the_ocr_stage_feeds_the_pointer_on_a_rendered_screen() -> Result<()> {
    let pkg = package(&[])?;
    let mut m = Manifest::load(pkg.path())?;
    let file = |(f, sha): (&str, &str)| ModelFile {
        file: f.into(),
        sha256: sha.into(),
    };
    m.perception = Perception {
        ocr: Some(OcrStage {
            detector: file(OCR_DETECTOR),
            recognizer: file(OCR_RECOGNIZER),
            config: OcrConfig::default(),
        }),
        icons: None,
    };
    m.save(pkg.path())?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;

    let mut cfg = SuiteConfig::new(SuiteKind::Ui, 1, 5);
    cfg.ui.resolutions = vec![[640, 400]];
    cfg.ui.other_resolution_rate = 0.0;
    let s = suites::sample_with(&cfg, 0)?;
    let labels: Vec<(String, BBox)> = s
        .record
        .meta
        .as_ref()
        .and_then(|m| m.get("texts"))
        .and_then(|t| t.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| {
            let text = t.get("text")?.as_str()?.to_string();
            let b: BBox = serde_json::from_value(t.get("box")?.clone()).ok()?;
            Some((text, b))
        })
        .collect();
    let img = DynamicImage::ImageRgb8(s.image);
    let opts = GroundOptions {
        spans: true,
        ..GroundOptions::greedy()
    };
    // The first label read exactly, whose words occur in no other text on the screen.
    let probe = p.ground(Frame::rgb(&img), "look", &opts)?;
    let spans = probe.spans.context("no spans")?;
    let words = |t: &str| reticle_models::pointer::words(t);
    let (label, truth) = labels
        .iter()
        .find(|(text, _)| {
            let w = words(text);
            !w.is_empty()
                && spans.iter().any(|s| words(&s.text) == w)
                && labels
                    .iter()
                    .filter(|(o, _)| words(o).iter().any(|x| w.contains(x)))
                    .count()
                    == 1
        })
        .context("no label read exactly")?;
    let instruction = format!("click {label}");
    let out = p.ground(Frame::rgb(&img), &instruction, &opts)?;
    let Ok(Value::Points(points)) = &out.answer else {
        bail!("not a point: {:?}", out.answer);
    };
    let grown = BBox::new(
        truth.x1 - 4.0,
        truth.y1 - 4.0,
        truth.x2 + 4.0,
        truth.y2 + 4.0,
    );
    assert!(
        grown.contains(&points[0]),
        "{instruction}: {points:?} not in {truth:?}"
    );
    assert!(out.confidence.context("no confidence")? > 0.5);
    assert!(out.timings.perceive > std::time::Duration::ZERO);
    // The desktop agent's incremental path gives the same answer.
    let mut session = p.screen_session();
    for _ in 0..2 {
        let again = session.ground(Frame::rgb(&img), &instruction, &opts)?;
        assert_eq!(again.text, out.text);
        assert_eq!(again.confidence, out.confidence);
    }
    Ok(())
}

#[test]
fn graph_io_that_breaks_the_contract_is_named() -> Result<()> {
    for (args, needles) in [
        (
            &["--rename", "span_feats=feats"][..],
            &["pointer.onnx has no input `span_feats`", "feats"][..],
        ),
        (
            &["--int32", "instr_ids"],
            &["pointer.onnx input `instr_ids` has element type i32, expected i64"],
        ),
        (
            &["--graph-candidates", "5"],
            &[
                "pointer.onnx input `span_ids` has size 5 on axis 1",
                "says 4",
            ],
        ),
        (
            &["--rename", "offsets=offs"],
            &["pointer.onnx has no output `offsets`"],
        ),
    ] {
        let pkg = package(args)?;
        let err = load_err(pkg.path());
        for n in needles {
            assert!(err.contains(n), "{args:?}: expected `{n}` in `{err}`");
        }
    }
    Ok(())
}

#[test]
fn an_unknown_architecture_is_refused_at_load() -> Result<()> {
    let pkg = package(&[])?;
    let path = pkg.path().join("model.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    v["architecture"] = "transformer-xl".into();
    std::fs::write(&path, v.to_string())?;
    let err = load_err(pkg.path());
    assert!(
        err.contains(
            "unknown architecture `transformer-xl` (known: reticle-vlm, pointer, qwen2-vl)"
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn depth_is_refused_for_an_rgb_pointer_package() -> Result<()> {
    let pkg = package(&[])?;
    let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
    let img = screen();
    let depth = vec![1000u16; 320 * 240];
    let frame = Frame {
        image: (&img).into(),
        depth: Some(reticle_models::preprocess::DepthRef::new(
            320, 240, &depth, 0.001,
        )?),
    };
    let err = p
        .ground(frame, "click", &GroundOptions::greedy())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not use a depth image"), "{err}");
    Ok(())
}

/// Rewrites the package's `pointer.nothing_bias`.
fn set_nothing_bias(dir: &Path, bias: f32) -> Result<()> {
    let mut m = Manifest::load(dir)?;
    m.pointer
        .as_mut()
        .context("no pointer section")?
        .nothing_bias = bias;
    m.save(dir)?;
    Ok(())
}

#[test]
fn the_nothing_bias_moves_the_refusal_and_keeps_the_overruled_click() -> Result<()> {
    let pkg = package(&["--nothing-logit", "1.0"])?;
    let cancel = BBox::new(100.0, 150.0, 160.0, 170.0);
    let spans = [
        span("Save", BBox::new(20.0, 150.0, 60.0, 170.0)),
        span("Cancel", cancel),
    ];
    let img = screen();
    let ground = |bias: f32| -> Result<reticle_runtime::Grounding> {
        set_nothing_bias(pkg.path(), bias)?;
        let p = Pipeline::load(pkg.path(), Provider::Cpu)?;
        Ok(p.ground_with_spans(
            Frame::rgb(&img),
            "click the Cancel button",
            &spans,
            &GroundOptions::greedy(),
        )?)
    };
    // Uncalibrated, the label (logit 5) outweighs the constant nothing logit (1): a click.
    let plain = ground(0.0)?;
    let Ok(Value::Points(points)) = &plain.answer else {
        bail!("not a point: {:?}", plain.answer);
    };
    assert!(cancel.contains(&points[0]), "{points:?}");
    let (pn, conf) = (
        plain.nothing.context("no p(nothing)")?,
        plain.confidence.context("no confidence")?,
    );
    assert!(pn > 0.0 && pn < conf, "{pn} {conf}");
    assert!(plain.overruled.is_none());
    // The rule flips exactly where ln p(nothing) + bias crosses ln region.
    let margin = reticle_models::pointer::nothing_margin(pn, conf);
    let below = ground(-margin - 0.05)?;
    assert!(!below.names_nothing(), "{:?}", below.answer);
    let above = ground(-margin + 0.05)?;
    assert!(above.names_nothing(), "{:?}", above.answer);
    assert_eq!(above.text, "<answer>[]</answer>");
    // p(nothing) itself is not rescaled, and the click it overruled is kept.
    assert_eq!(above.nothing, Some(pn));
    assert_eq!(above.confidence, Some(pn));
    let o = above.overruled.context("no overruled click")?;
    assert_eq!((o.point, o.confidence), (points[0], conf));
    let json = serde_json::to_value(&above)?;
    assert_eq!(
        json["overruled"]["confidence"].as_f64(),
        Some(f64::from(conf))
    );
    Ok(())
}

#[test]
fn a_nothing_bias_without_the_head_or_out_of_range_is_refused() -> Result<()> {
    let pkg = package(&["--nothing-bias", "1.0"])?;
    let err = load_err(pkg.path());
    assert!(
        err.contains("nothing_bias") && err.contains("no nothing logit"),
        "{err}"
    );
    let pkg = package(&["--nothing-logit", "0", "--nothing-bias", "9"])?;
    let err = load_err(pkg.path());
    assert!(err.contains("pointer.nothing_bias 9 is outside"), "{err}");
    Ok(())
}
