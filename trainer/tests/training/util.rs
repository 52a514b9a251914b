//! Shared set-up: small suite datasets and configs written to a temporary folder.

use std::path::{Path, PathBuf};

use reticle_suites::{self as suites, SuiteConfig, SuiteKind};

/// Generates `n` samples of `kind` into `dir/<kind>` and returns that folder.
pub fn dataset(dir: &Path, kind: SuiteKind, n: usize, seed: u64) -> PathBuf {
    let out = dir.join(kind.as_str());
    suites::generate(&SuiteConfig::new(kind, n, seed), &out, &|_| {}).expect("suite generation");
    out
}

/// A micro-model config over `train` with the given extra TOML appended.
pub fn config(train: &Path, extra: &str) -> String {
    format!(
        "[model]\nsize = \"micro\"\n[data]\ntrain = [{train:?}]\nvocab_size = 400\n{extra}\n",
        train = train.display().to_string()
    )
}

/// Reads the values of `key` for `phase` from a run's metrics.jsonl, in step order.
pub fn metric(run: &Path, phase: &str, key: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["phase"] == phase)
        .filter_map(|v| v[key].as_f64())
        .collect()
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
