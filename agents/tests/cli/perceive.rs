//! `reticle perceive`, `reticle ground --spans` and `reticle data perceive` on real OCR graphs.

use reticle_models::text::{find_label, SpansRecord, TextSpan};

use crate::util::{arg, fixture, json, reticle, run, stderr, stdout, training_data};

#[test]
fn perceive_reads_the_target_labels_of_ui_screens() {
    let data = training_data();
    let dir = tempfile::tempdir().unwrap();
    let mut found = 0;
    let mut named = 0;
    for r in data.records.iter().take(4) {
        let ann = dir.path().join("read.png");
        let v = json(&run(&[
            "perceive",
            "--image",
            arg(&r.image),
            "--provider",
            "cpu",
            "--json",
            "--annotate",
            arg(&ann),
        ]));
        let spans: Vec<TextSpan> = serde_json::from_value(v["spans"].clone()).unwrap();
        assert!(spans.len() > 5, "{}: {spans:?}", r.image.display());
        assert!(spans.iter().all(|s| !s.words.is_empty()));
        assert!(v["timings"]["total_ms"].as_f64().unwrap() > 0.0);
        let img = image::open(&ann).unwrap();
        assert_eq!(img.width(), v["size"][0].as_u64().unwrap() as u32);
        let label = r.meta.as_ref().unwrap()["label"]
            .as_str()
            .unwrap_or_default();
        if reticle_models::text::is_label(label) {
            named += 1;
            found += usize::from(find_label(&spans, label).is_some());
        }
    }
    assert!(
        named > 0 && found * 4 >= named * 3,
        "{found} of {named} target labels read"
    );
}

fn run_owned(args: &[String]) -> std::process::Output {
    reticle().args(args).output().unwrap()
}

#[test]
fn ground_returns_spans_on_request() {
    let data = training_data();
    let r = &data.records[0];
    let model = fixture();
    let base = [
        "ground",
        "--model",
        arg(&model),
        "--image",
        arg(&r.image),
        "--instruction",
        &r.instruction,
        "--provider",
        "cpu",
    ];
    let with_json = |extra: &[&'static str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let v = json(&run_owned(&with_json(&["--json"])));
    assert!(
        v["result"].get("spans").is_none(),
        "spans without --spans: {v}"
    );
    let v = json(&run_owned(&with_json(&["--json", "--spans"])));
    let spans = v["result"]["spans"].as_array().expect("spans with --spans");
    assert!(spans.len() > 5);
    assert!(v["result"]["timings"]["perceive_ms"].as_f64().unwrap() > 0.0);
    // Text output lists them as `text x1 y1 x2 y2 score …` lines.
    let out = run_owned(&with_json(&["--spans"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("text "))
            .count()
            > 5
    );
}

#[test]
fn data_perceive_writes_resumes_and_reports() {
    let data = training_data();
    let root = data.dir.path();
    let out = run(&[
        "data",
        "perceive",
        arg(root),
        "--provider",
        "cpu",
        "--report",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("recall"), "{}", stdout(&out));
    let spans_path = root.join("spans.jsonl");
    let full = std::fs::read_to_string(&spans_path).unwrap();
    let lines: Vec<SpansRecord> = full
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12);
    assert!(lines
        .iter()
        .all(|l| l.image.starts_with("images/") && !l.spans.is_empty()));
    assert!(!root.join("spans.jsonl.partial").exists());

    // Complete: nothing is read again.
    let again = run(&["data", "perceive", arg(root), "--provider", "cpu"]);
    assert!(stderr(&again).contains("is complete"), "{}", stderr(&again));

    // Interrupted: five lines and a torn sixth are kept; the rest is read and the result is
    // the same file (reads are deterministic).
    std::fs::remove_file(&spans_path).unwrap();
    let mut partial: String = full.lines().take(5).map(|l| format!("{l}\n")).collect();
    partial.push_str(&full.lines().nth(5).unwrap()[..40]);
    std::fs::write(root.join("spans.jsonl.partial"), partial).unwrap();
    let resumed = run(&["data", "perceive", arg(root), "--provider", "cpu"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("resuming: 5 of 12"),
        "{}",
        stderr(&resumed)
    );
    let again: Vec<SpansRecord> = std::fs::read_to_string(&spans_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let key = |v: &[SpansRecord]| {
        let mut k: Vec<_> = v
            .iter()
            .map(|r| {
                (
                    r.image.clone(),
                    r.spans.iter().map(|s| s.text.clone()).collect::<Vec<_>>(),
                )
            })
            .collect();
        k.sort();
        k
    };
    assert_eq!(key(&again), key(&lines));
}

#[test]
fn perceive_bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let out = run(&["perceive", "--image", arg(&missing), "--provider", "cpu"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope.png"), "{}", stderr(&out));

    let corrupt = dir.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = run(&["perceive", "--image", arg(&corrupt), "--provider", "cpu"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("corrupt.png"), "{}", stderr(&out));

    // Without the OCR graphs: where it looked, and the command that fetches them.
    let empty = tempfile::tempdir().unwrap();
    let img = dir.path().join("white.png");
    image::RgbImage::from_pixel(32, 32, image::Rgb([255, 255, 255]))
        .save(&img)
        .unwrap();
    let out = reticle()
        .args(["perceive", "--image", arg(&img), "--provider", "cpu"])
        .env("RETICLE_OCR_DIR", empty.path())
        .env("RETICLE_CACHE", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("PP-OCRv6_det_small.onnx not found")
            && err.contains("scripts/setup.sh runtime"),
        "{err}"
    );
}
