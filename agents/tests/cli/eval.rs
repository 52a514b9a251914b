//! `reticle eval`: the fixture scores its own training records.

use crate::util::{arg, fixture, json, run, training_data};

#[test]
fn eval_json_reports_high_click_accuracy_on_the_training_records() {
    let data = training_data();
    let out = run(&[
        "eval",
        "--model",
        arg(&fixture()),
        "--data",
        arg(data.dir.path()),
        "--provider",
        "cpu",
        "--json",
    ]);
    let v = json(&out);
    let summary = &v["summary"];
    assert_eq!(summary["n"], 12, "{summary}");
    assert_eq!(summary["format_rate"].as_f64(), Some(1.0), "{summary}");
    let click = summary["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "click")
        .unwrap_or_else(|| panic!("no click task in {summary}"));
    let accuracy = click["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.8, "click accuracy {accuracy} < 0.8: {v}");
    let samples = v["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 12);
    for (s, r) in samples.iter().zip(&data.records) {
        assert_eq!(s["id"], r.id.as_str());
        let completion = s["completion"].as_str().unwrap();
        assert!(
            completion.ends_with("</answer>"),
            "{}: {completion:?}",
            r.id
        );
    }
}

#[test]
fn eval_max_limits_the_records() {
    let data = training_data();
    let dir = arg(data.dir.path());
    let v = json(&run(&[
        "eval",
        "--model",
        arg(&fixture()),
        "--data",
        dir,
        "--max",
        "3",
        "--provider",
        "cpu",
        "--json",
    ]));
    assert_eq!(v["summary"]["n"], 3);
    assert_eq!(v["samples"].as_array().unwrap().len(), 3);
}
