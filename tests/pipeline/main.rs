//! Train → export → run: a package exported from a trained checkpoint gives the same greedy
//! text through ONNX Runtime as the trainer does through libtorch, on real suite images, and
//! the same evaluation metrics.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod qwen;

use reticle_models::rewards::RewardConfig;
use reticle_runtime::{Pipeline, Provider};
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};
use reticle_trainer::data::Encoder;
use reticle_trainer::eval::evaluate;
use reticle_trainer::export::{export_package, ExportOptions};
use reticle_trainer::model::Policy;
use reticle_trainer::session::{encode_all, load_trained, read_records, Session, StartOptions};
use reticle_trainer::sft::run_sft;

#[test]
fn exported_package_decodes_and_scores_like_the_trainer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ui");
    suites::generate(&SuiteConfig::new(SuiteKind::Ui, 12, 21), &data, &|_| {}).unwrap();
    let run = dir.path().join("run");
    let cfg = format!(
        "[model]\nsize = \"micro\"\n[data]\ntrain = [{:?}]\nvocab_size = 400\n\
         [sft]\nsteps = 120\nbatch_size = 12\n[optim]\nlr = 3e-3\nwarmup_steps = 5\ntotal_steps = 120\n\
         [grpo.sample]\nmax_new_tokens = 24\n",
        data.display().to_string()
    );
    let mut s = Session::start(&StartOptions {
        out: run.clone(),
        config_toml: Some(cfg),
        resume: false,
        init: None,
        device: tch::Device::Cpu,
    })
    .unwrap();
    run_sft(&mut s).unwrap();
    drop(s);

    let pkg = dir.path().join("pkg");
    export_package(&run, &pkg, &ExportOptions::default()).unwrap();

    // The trainer's view: greedy decoding through libtorch.
    let (tcfg, tokenizer, model, _) = load_trained(&run, tch::Device::Cpu).unwrap();
    let records = read_records(&tcfg.data.train, 0).unwrap();
    let encoder = Encoder::new(tokenizer, tcfg.prep.clone(), model.input_shape()).unwrap();
    let examples = encode_all(&encoder, &records).unwrap();
    let rewards = RewardConfig::default();
    let trained = evaluate(&model, &encoder, &records, &examples, 4, 24, &rewards).unwrap();

    // The runtime's view: the exported package through ONNX Runtime.
    let pipeline = Pipeline::load(&pkg, Provider::Cpu).unwrap();
    let served = reticle_runtime::eval::evaluate(&pipeline, &records, &rewards, &|_| {}).unwrap();

    let mut answered = 0;
    for (t, r) in trained.samples.iter().zip(&served.samples) {
        assert_eq!(t.id, r.id);
        assert_eq!(
            t.completion, r.completion,
            "record {}: trainer and runtime disagree",
            t.id
        );
        answered += usize::from(t.completion.contains("</answer>"));
    }
    // The model learnt the grammar, so the comparison covers real answers, not just noise.
    assert!(
        answered >= 8,
        "only {answered} of 12 completions are answers"
    );
    assert_eq!(
        serde_json::to_value(&trained.summary).unwrap(),
        serde_json::to_value(&served.summary).unwrap(),
        "trainer eval and runtime eval must report the same metrics"
    );
}
