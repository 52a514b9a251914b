//! Helpers shared by the CLI tests: the fixture, its training records, running `reticle`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reticle_models::dataset::{read_dataset, Record};
use reticle_models::suites::{self, SuiteConfig, SuiteKind};
use tempfile::TempDir;

/// The committed model package.
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/micro-ui")
}

/// The 12 records the fixture was trained on, regenerated (byte-identical: a suite sample
/// depends only on suite, seed and index) in a fresh temporary folder.
pub struct TrainingData {
    pub dir: TempDir,
    pub records: Vec<Record>,
}

pub fn training_data() -> TrainingData {
    let dir = tempfile::tempdir().unwrap();
    // Same suite, count and seed as scripts/make_fixture_package.sh.
    suites::generate(
        &SuiteConfig::new(SuiteKind::Ui, 12, 21),
        dir.path(),
        &|_| {},
    )
    .unwrap();
    let records = read_dataset(dir.path()).unwrap();
    assert_eq!(records.len(), 12);
    TrainingData { dir, records }
}

/// `reticle` with quiet logging, so that stderr holds the error message and little else.
pub fn reticle() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reticle"));
    cmd.env("RUST_LOG", "warn,ort=error");
    cmd
}

/// Runs `reticle args…` to completion.
pub fn run(args: &[&str]) -> Output {
    reticle().args(args).output().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `out` succeeded and parses its stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "reticle failed ({}): {}",
        out.status,
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", stdout(out)))
}

/// A path as a command-line argument (the test paths are UTF-8).
pub fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}
