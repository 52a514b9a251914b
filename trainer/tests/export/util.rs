//! Shared set-up: a micro model trained for a few SFT steps in a temporary folder.

use std::path::{Path, PathBuf};

use reticle_suites::{self as suites, SuiteConfig, SuiteKind};
use reticle_trainer::session::{Session, StartOptions};
use reticle_trainer::sft::run_sft;

/// Trains a micro model on a few `shapes` records for `steps` SFT steps (with an evaluation at
/// the end) in `dir/run` and returns the run folder.
pub fn trained_run(dir: &Path, steps: u64) -> PathBuf {
    let data = dir.join("shapes");
    suites::generate(&SuiteConfig::new(SuiteKind::Shapes, 8, 5), &data, &|_| {})
        .expect("suite generation");
    let cfg = format!(
        "[model]\nsize = \"micro\"\n[data]\ntrain = [{d:?}]\neval = [{d:?}]\nmax_eval = 4\n\
         vocab_size = 400\n[sft]\nsteps = {steps}\nbatch_size = 4\n[optim]\nlr = 3e-3\n\
         warmup_steps = 2\ntotal_steps = {steps}\n[grpo.sample]\nmax_new_tokens = 40\n",
        d = data.display().to_string()
    );
    let run = dir.join("run");
    let mut s = Session::start(&StartOptions {
        out: run.clone(),
        config_toml: Some(cfg),
        resume: false,
        init: None,
        device: tch::Device::Cpu,
    })
    .expect("session start");
    run_sft(&mut s).expect("sft");
    run
}
