//! Train → export → run for Hugging Face Qwen2-VL / Qwen2.5-VL checkpoints: a few LoRA SFT
//! steps on each family's tiny random checkpoint (built by `transformers` at test time, as in
//! `trainer/tests/qwen`), the package exported with the adapters merged, then the runtime's
//! greedy decoding through ONNX Runtime against the trainer's through libtorch, token for
//! token, and the same evaluation metrics; then int8 / int4 decoders, their completions
//! compared with the trainer's.

use std::path::Path;

use reticle_models::dataset::read_dataset;
use reticle_models::rewards::RewardConfig;
use reticle_runtime::{LoadOptions, Pipeline, Provider, QwenPolicy};
use reticle_trainer::export::quant::Quant;
use reticle_trainer::export::{export_package, ExportOptions};
use reticle_trainer::qwen::{evaluate, load_trained, QwenSession};
use reticle_trainer::session::StartOptions;
use reticle_trainer::sft::run_sft;

#[path = "../../trainer/tests/qwen/util.rs"]
#[allow(dead_code)]
mod qwen_util;

const SFT: &str = "[sft]\nsteps = 24\nbatch_size = 2\n\
                   [optim]\nlr = 2e-2\nwarmup_steps = 0\ntotal_steps = 24\n\
                   [grpo.sample]\nmax_new_tokens = 16\n\
                   [run]\nseed = 3\n";

fn family_decodes_like_the_trainer(dir: &Path, family: usize) {
    let name = qwen_util::FAMILIES[family].0;
    let ckpt = qwen_util::grammar_checkpoint_of(dir, family).unwrap();
    let data = qwen_util::dataset(dir).unwrap();
    let run = dir.join("run");
    let mut s = QwenSession::start(&StartOptions {
        out: run.clone(),
        config_toml: Some(qwen_util::config(&ckpt, &data, SFT)),
        resume: false,
        init: None,
        device: tch::Device::Cpu,
    })
    .unwrap();
    run_sft(&mut s).unwrap();
    drop(s);

    let pkg = dir.join("pkg");
    let opts = ExportOptions {
        // Qwen2.5-VL's package keeps its weights in external data files.
        external_data_above: Some(if family == 1 { 0 } else { 1 << 30 }),
        ..ExportOptions::default()
    };
    export_package(&run, &pkg, &opts).unwrap();

    // The trainer's view: greedy decoding through libtorch, adapters on.
    let trained = load_trained(&run, tch::Device::Cpu).unwrap();
    let records = read_dataset(&data).unwrap();
    let examples = trained.encoder.encode_all(&records).unwrap();
    let rewards = RewardConfig::default();
    let max_new = trained.cfg.grpo.sample.max_new_tokens;
    let tch_eval = evaluate(
        &trained.model,
        &trained.encoder,
        &records,
        &examples,
        max_new,
        &rewards,
    )
    .unwrap();

    // The runtime's view: the package through ONNX Runtime, token ids and full groundings.
    let policy = QwenPolicy::load_with(
        &pkg,
        &LoadOptions {
            provider: Provider::Cpu,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    for (record, sample) in records.iter().zip(&tch_eval.samples) {
        let image = reticle_models::imageio::open(&record.image).unwrap();
        let ids = policy
            .generate_ids(&image, &record.instruction, max_new)
            .unwrap();
        let text = trained.encoder.decode(&ids).unwrap();
        println!(
            "{name} {}: runtime {text:?}, trainer {:?}",
            record.id, sample.completion
        );
        assert_eq!(text, sample.completion, "{name} record {}", record.id);
    }
    let pipeline = Pipeline::load(&pkg, Provider::Cpu).unwrap();
    let served = reticle_runtime::eval::evaluate(&pipeline, &records, &rewards, &|_| {}).unwrap();
    for (t, r) in tch_eval.samples.iter().zip(&served.samples) {
        assert_eq!(t.completion, r.completion, "{name} record {}", t.id);
    }
    assert_eq!(
        serde_json::to_value(&tch_eval.summary).unwrap(),
        serde_json::to_value(&served.summary).unwrap(),
        "{name}: trainer eval and runtime eval must report the same metrics"
    );

    // The decoder quantised: the accuracy change on the same records.
    for q in [Quant::Int8, Quant::Int4] {
        let qpkg = dir.join(q.name());
        let opts = ExportOptions {
            quantize: Some(q),
            ..ExportOptions::default()
        };
        export_package(&run, &qpkg, &opts).unwrap();
        let pipeline = Pipeline::load(&qpkg, Provider::Cpu).unwrap();
        let served =
            reticle_runtime::eval::evaluate(&pipeline, &records, &rewards, &|_| {}).unwrap();
        let same = tch_eval
            .samples
            .iter()
            .zip(&served.samples)
            .filter(|(t, r)| t.completion == r.completion)
            .count();
        println!(
            "{name} {}: {same} of {} completions equal the f32 trainer's; {:?}",
            q.name(),
            records.len(),
            served
                .samples
                .iter()
                .map(|s| &s.completion)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn exported_qwen_packages_decode_and_score_like_the_trainer() {
    for family in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        family_decodes_like_the_trainer(dir.path(), family);
    }
}
