//! `reticle calibrate` on the committed `pointer-nothing` fixture (a constant nothing logit,
//! steep red patches): bright red squares to click, dull red squares that name nothing.
//! Uncalibrated, the dull squares are clicked; the chosen bias refuses them and keeps the
//! bright ones, and `--write` saves it.

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use crate::util::{arg, fixture, json, pointer_fixture, run, stderr, stdout};

fn nothing_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pointer-nothing")
}

/// Four screens with a bright red square (targets) and four with a dull one (naming
/// nothing), 320×240, the square 40 px at a different place on each.
fn squares(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("images")).unwrap();
    let mut lines = String::new();
    for i in 0..8u32 {
        let (x0, y0) = (40 + 40 * (i % 4), 40 + 80 * (i / 4 % 2));
        let colour = if i % 2 == 0 {
            Rgb([250, 10, 10])
        } else {
            Rgb([190, 70, 70])
        };
        let img = RgbImage::from_fn(320, 240, |x, y| {
            if (x0..x0 + 40).contains(&x) && (y0..y0 + 40).contains(&y) {
                colour
            } else {
                Rgb([128, 128, 128])
            }
        });
        let name = format!("images/s{i}.png");
        img.save(dir.join(&name)).unwrap();
        let target = if i % 2 == 0 {
            format!(
                r#"{{"box":[{}.0,{}.0,{}.0,{}.0]}}"#,
                x0 - 20,
                y0 - 20,
                x0 + 60,
                y0 + 60
            )
        } else {
            r#"{"boxes":[]}"#.into()
        };
        lines.push_str(&format!(
            r#"{{"id":"s{i}","image":"{name}","instruction":"click the bright red square","task":"click","target":{target}}}"#
        ));
        lines.push('\n');
    }
    std::fs::write(dir.join("data.jsonl"), lines).unwrap();
    dir.to_path_buf()
}

#[test]
fn calibrate_finds_the_bias_that_refuses_the_dull_squares_and_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = squares(&tmp.path().join("val"));
    let pkg = tmp.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for f in ["model.json", "pointer.onnx"] {
        std::fs::copy(nothing_fixture().join(f), pkg.join(f)).unwrap();
    }
    let base = ["calibrate", "--model", arg(&pkg), "--data", arg(&data)];
    let v = json(&run(&[&base[..], &["--provider", "cpu", "--json"]].concat()));
    assert_eq!(v["records"], 8, "{v}");
    let (current, chosen) = (&v["current"], &v["chosen"]);
    // Uncalibrated: all four bright squares hit, none of the dull ones refused.
    assert_eq!(current["positives_hit"], 4, "{v}");
    assert_eq!(current["nothing_refused"], 0, "{v}");
    // Calibrated: every answer right, at the smallest such bias.
    assert_eq!(chosen["accuracy"], 1.0, "{v}");
    let bias = chosen["bias"].as_f64().unwrap();
    assert!(bias > 0.5 && bias < 6.0, "{v}");
    assert_eq!(v["sweep"].as_array().unwrap().len(), 321);
    assert_eq!(v["written"], false);
    let manifest = std::fs::read_to_string(pkg.join("model.json")).unwrap();
    assert!(!manifest.contains("nothing_bias"), "{manifest}");

    // The table, and --write saves the bias; the package then refuses a dull square.
    let out = run(&[&base[..], &["--provider", "cpu", "--write"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("← current") && table.contains("← chosen"),
        "{table}"
    );
    assert!(
        table.contains("4 naming something, 4 naming nothing"),
        "{table}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pkg.join("model.json")).unwrap()).unwrap();
    assert_eq!(m["pointer"]["nothing_bias"].as_f64(), Some(bias), "{m}");
    let dull = data.join("images/s1.png");
    let g = json(&run(&[
        "ground",
        "--model",
        arg(&pkg),
        "--image",
        arg(&dull),
        "--instruction",
        "click the bright red square",
        "--provider",
        "cpu",
        "--json",
    ]));
    assert_eq!(g["result"]["text"], "<answer>[]</answer>", "{g}");
    assert!(g["result"]["overruled"]["confidence"].is_number(), "{g}");
    // Evaluated again: every record right.
    let e = json(&run(&[
        "eval",
        "--model",
        arg(&pkg),
        "--data",
        arg(&data),
        "--provider",
        "cpu",
        "--json",
    ]));
    assert_eq!(e["summary"]["tasks"][0]["accuracy"], 1.0, "{e}");
    let samples = e["samples"].as_array().unwrap();
    assert!(samples.iter().all(|s| s["correct"] == true), "{e}");
    assert!(samples.iter().all(|s| s["nothing"].is_number()), "{e}");
}

#[test]
fn calibrate_refuses_a_package_without_the_nothing_head() {
    let tmp = tempfile::tempdir().unwrap();
    let data = squares(&tmp.path().join("val"));
    for (model, says) in [
        (pointer_fixture(), "has no nothing head"),
        (fixture(), "not a pointer package"),
    ] {
        let out = run(&["calibrate", "--model", arg(&model), "--data", arg(&data)]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(says), "{err}");
    }
}
