//! `reticle data import|check` and the dataset checks `reticle eval` shares: broken records
//! are caught, each named by `file:line`, record id and field, and nothing exits 0 on them.

use std::path::Path;

use image::GrayImage;

use crate::util::{arg, fixture, reticle, run, stderr, stdout};

fn png(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::new(w, h).save(path).unwrap();
}

/// The example of `docs/data.md`: importing into `data/r1/data.jsonl` from the working
/// directory writes paths that `data check data/r1` then finds.
#[test]
fn import_into_a_subfolder_writes_paths_relative_to_the_output() {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("raw/imgs/s.png"), 100, 80);
    std::fs::write(
        dir.path().join("raw/ss.json"),
        r#"[{"img_filename": "s.png", "bbox": [10, 20, 30, 40], "instruction": "open settings"}]"#,
    )
    .unwrap();
    let out = reticle()
        .current_dir(dir.path())
        .args([
            "data",
            "import",
            "--format",
            "screenspot",
            "--input",
            "raw/ss.json",
        ])
        .args(["--images", "raw/imgs", "--out", "data/r1/data.jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("data/r1/data.jsonl")).unwrap();
    assert!(text.contains(r#""image":"../../raw/imgs/s.png""#), "{text}");
    let out = reticle()
        .current_dir(dir.path())
        .args(["data", "check", "data/r1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok: "), "{}", stdout(&out));
}

/// A dataset folder with `a.png` (100×50), a 10×5 mask and a file that is not an image.
fn broken_dataset(lines: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    png(&dir.path().join("a.png"), 100, 50);
    png(&dir.path().join("small.png"), 10, 5);
    std::fs::write(dir.path().join("junk.png"), b"not an image").unwrap();
    std::fs::write(dir.path().join("data.jsonl"), lines.join("\n")).unwrap();
    dir
}

fn line(id: &str, image: &str, target: &str) -> String {
    format!(
        r#"{{"id":"{id}","image":"{image}","instruction":"click Save","task":"click","target":{target}}}"#
    )
}

#[test]
fn check_reports_every_problem_with_file_line_id_and_field() {
    let lines = vec![
        line("good", "a.png", r#"{"box":[1,2,30,40]}"#),
        line("inverted", "a.png", r#"{"box":[30,40,1,2]}"#),
        line("outside", "a.png", r#"{"box":[1,2,300,40]}"#),
        line("mask", "a.png", r#"{"mask":"small.png"}"#),
        line("good", "a.png", r#"{"point":[5,5]}"#),
        line("junk", "junk.png", r#"{"point":[5,5]}"#),
        line("junkmask", "a.png", r#"{"mask":"junk.png"}"#),
        line("extra", "a.png", r#"{"point":[5,5]}"#).replace("\"task\"", "\"colour\":1,\"task\""),
        line("two", "a.png", r#"{"box":[1,2,3,4],"label_box":[1,2,3,4]}"#),
    ];
    let dir = broken_dataset(&lines);
    let out = run(&["data", "check", arg(dir.path())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let file = dir.path().join("data.jsonl");
    let f = file.display();
    for want in [
        format!("{f}:2: record inverted: target: target.box: box [30, 40, 1, 2] is inverted"),
        format!("{f}:3: record outside: target.box: box [1, 2, 300, 40] lies outside the 100x50 image"),
        format!("{f}:4: record mask: target.mask: mask is 10x5 but the image is 100x50"),
        format!("{f}:5: record good: id: duplicate id (first used on line 1)"),
        format!("{f}:6: record junk: image: image {}: not a readable PNG/JPEG image", dir.path().join("junk.png").display()),
        format!("{f}:7: record junkmask: target.mask: image {}: not a readable", dir.path().join("junk.png").display()),
        format!("{f}:8: record extra: colour: unknown field"),
        format!("{f}:9: record two: target: target must have exactly one of box, boxes, point, mask, label, count; got box, label_box"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(err.contains("error: 8 problem(s) found"), "{err}");
}

fn eval(data: &Path) -> std::process::Output {
    run(&[
        "eval",
        "--model",
        arg(&fixture()),
        "--data",
        arg(data),
        "--provider",
        "cpu",
        "--json",
    ])
}

#[test]
fn eval_refuses_a_wrong_size_mask_instead_of_scoring_a_miss() {
    let dir = broken_dataset(&[line("m1", "a.png", r#"{"mask":"small.png"}"#)]);
    let out = eval(dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let f = dir.path().join("data.jsonl");
    assert!(
        err.contains(&format!(
            "{}:1: record m1: target.mask: mask is 10x5",
            f.display()
        )),
        "{err}"
    );
    assert!(err.contains("error: 1 problem(s) in the dataset"), "{err}");
}

#[test]
fn eval_names_line_and_id_of_a_missing_image() {
    let dir = broken_dataset(&[
        line("fine", "a.png", r#"{"point":[5,5]}"#),
        line("lost", "gone.png", r#"{"point":[5,5]}"#),
    ]);
    let out = eval(dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let f = dir.path().join("data.jsonl");
    let want = format!(
        "{}:2: record lost: image: {} does not exist",
        f.display(),
        dir.path().join("gone.png").display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}

#[test]
fn eval_refuses_an_empty_dataset() {
    let dir = broken_dataset(&[]);
    let out = eval(dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: no records to evaluate in"), "{err}");
}
