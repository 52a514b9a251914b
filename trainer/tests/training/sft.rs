use reticle_suites::SuiteKind;
use reticle_trainer::session::{Session, StartOptions};
use reticle_trainer::sft::run_sft;

use crate::util::{config, dataset, metric};

#[test]
fn sft_on_a_few_records_drives_the_loss_near_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), SuiteKind::Shapes, 8, 3);
    let cfg = config(
        &data,
        "[sft]\nsteps = 150\nbatch_size = 8\n[optim]\nlr = 3e-3\nwarmup_steps = 5\ntotal_steps = 150\nweight_decay = 0.0\n[run]\ncheckpoint_every = 150\n",
    );
    let run = dir.path().join("run");
    let mut s = Session::start(&StartOptions {
        out: run.clone(),
        config_toml: Some(cfg),
        resume: false,
        init: None,
        device: tch::Device::Cpu,
    })
    .unwrap();
    let final_loss = run_sft(&mut s).unwrap();
    let losses = metric(&run, "sft", "loss");
    assert_eq!(losses.len(), 150);
    assert!(
        losses[0] > 3.0,
        "initial loss {} should be near ln(vocab)",
        losses[0]
    );
    assert!(
        final_loss < 0.05,
        "SFT should memorise 8 records, final loss {final_loss}"
    );
    // A checkpoint and the tokenizer are in the run.
    assert!(run
        .join("checkpoints/step-000150/model.safetensors")
        .is_file());
    assert!(run.join("tokenizer.json").is_file());
}
