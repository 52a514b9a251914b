//! The shipped package's icon reader (`perception.icons`): ONNX Runtime against tch on the
//! trainer's parity crops, icons of styles never trained on named on a toolbar and handed to
//! the policy beside the read text, and a changed graph refused by name.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reticle_models::geometry::BBox;
use reticle_models::icons::INPUT;
use reticle_models::manifest::Manifest;
use reticle_runtime::perception::{IconReader, ReaderOptions};
use reticle_runtime::{Frame, GroundOptions, Pipeline, Provider};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[derive(serde::Deserialize)]
struct Parity {
    sha256: String,
    crops: Vec<Vec<f32>>,
    probs: Vec<Vec<f32>>,
}

#[test]
fn the_icon_reader_matches_tch_on_the_parity_crops() -> Result<()> {
    let dir = shipped();
    let m = Manifest::load(&dir)?;
    let stage = m
        .perception
        .icons
        .as_ref()
        .context("models/default has no icon reader")?;
    let text = std::fs::read_to_string(fixture("icons-parity.json"))?;
    let parity: Parity = serde_json::from_str(&text)?;
    assert_eq!(
        parity.sha256, stage.model.sha256,
        "tests/fixtures/icons-parity.json comes from another icons.onnx: copy the one \
         `reticle-train icons` wrote beside the shipped graph"
    );
    let reader = IconReader::load(
        &dir,
        stage,
        &ReaderOptions {
            provider: Provider::Cpu,
            intra_threads: None,
        },
    )?;
    let crops: Vec<[f32; INPUT * INPUT]> = parity
        .crops
        .iter()
        .map(|c| c.as_slice().try_into())
        .collect::<std::result::Result<_, _>>()?;
    let got = reader.classify(&crops)?;
    let want: Vec<f32> = parity.probs.concat();
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-4, "ONNX Runtime and tch differ by {worst}");
    Ok(())
}

#[test]
fn icons_of_unseen_styles_reach_the_policy_as_spans() -> Result<()> {
    // Octicons (never trained on: a held-out style of scripts/icon_sheets.sh) cut from a
    // held-out sheet: gear, trash, search, bell and ×, left to right, 64 px apart.
    let p = Pipeline::load(&shipped(), Provider::Cpu)?;
    assert!(p.icons().is_some());
    let img = image::open(fixture("icons-toolbar.png"))?;
    let out = p.ground(
        Frame::rgb(&img),
        "open the settings",
        &GroundOptions {
            spans: true,
            ..GroundOptions::greedy()
        },
    )?;
    let spans = out.spans.context("spans were asked for")?;
    let named = |key: &str, slot: f64| {
        let cell = BBox::new(8.0 + 64.0 * slot, 6.0, 60.0 + 64.0 * slot, 58.0);
        spans.iter().any(|s| {
            s.icon.as_deref() == Some(key)
                && cell.contains(&s.bbox.center())
                && s.text.ends_with(" icon")
        })
    };
    for (key, slot) in [("settings", 0.0), ("trash", 1.0), ("close", 4.0)] {
        assert!(
            named(key, slot),
            "no `{key}` icon in slot {slot}: {spans:#?}"
        );
    }
    // A span the reader named is never left beside an icon span of the same box twice.
    let icons: Vec<_> = spans.iter().filter(|s| s.icon.is_some()).collect();
    for (i, a) in icons.iter().enumerate() {
        for b in &icons[i + 1..] {
            assert!(a.bbox.iou(&b.bbox) < 0.8, "{a:?} and {b:?} overlap");
        }
    }
    Ok(())
}

#[test]
fn a_changed_icon_graph_is_refused_with_its_name() -> Result<()> {
    let src = shipped();
    let dir = tempfile::tempdir()?;
    for e in std::fs::read_dir(&src)? {
        let e = e?;
        std::fs::copy(e.path(), dir.path().join(e.file_name()))?;
    }
    let m = Manifest::load(dir.path())?;
    let file = &m
        .perception
        .icons
        .as_ref()
        .context("no icon reader")?
        .model
        .file;
    let mut bytes = std::fs::read(dir.path().join(file))?;
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(dir.path().join(file), bytes)?;
    let err = Pipeline::load(dir.path(), Provider::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("perception.icons") && err.contains("SHA-256"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join(file))?;
    let err = Pipeline::load(dir.path(), Provider::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("icons.onnx") && err.contains("missing"),
        "{err}"
    );
    Ok(())
}
