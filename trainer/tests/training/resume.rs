//! Kill a real `reticle-train` process mid-run, resume it, and compare with a run that was
//! never interrupted: same seed, same weights, same metrics.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reticle_suites::SuiteKind;

use crate::util::{config, dataset, metric};

pub(crate) fn train(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_reticle-train"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start reticle-train")
}

pub(crate) fn final_weights(run: &Path, step: u64) -> Vec<(String, tch::Tensor)> {
    let mut named = tch::Tensor::read_safetensors(
        run.join(format!("checkpoints/step-{step:06}/model.safetensors")),
    )
    .unwrap();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

#[test]
fn a_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), SuiteKind::Shapes, 16, 9);
    let steps = 400;
    let cfg_path = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg_path,
        config(
            &data,
            &format!(
                "[sft]\nsteps = {steps}\nbatch_size = 4\n[optim]\nlr = 1e-3\ntotal_steps = {steps}\n\
                 [run]\nseed = 11\ncheckpoint_every = 10\n"
            ),
        ),
    )
    .unwrap();
    let cfg = cfg_path.to_str().unwrap();

    // Uninterrupted reference run.
    let straight = dir.path().join("straight");
    let status = train(&[
        "sft",
        "--config",
        cfg,
        "--out",
        straight.to_str().unwrap(),
        "--device",
        "cpu",
    ])
    .wait()
    .unwrap();
    assert!(status.success());

    // The same run, killed once its second checkpoint exists.
    let killed = dir.path().join("killed");
    let mut child = train(&[
        "sft",
        "--config",
        cfg,
        "--out",
        killed.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !killed.join("checkpoints/step-000020").exists() {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "run finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join(format!("checkpoints/step-{steps:06}")).exists(),
        "the run must have been killed before its end"
    );
    let status = train(&[
        "sft",
        "--resume",
        "--out",
        killed.to_str().unwrap(),
        "--device",
        "cpu",
    ])
    .wait()
    .unwrap();
    assert!(status.success());

    // Same metrics curve (one line per step, no duplicates) and same final weights.
    let (a, b) = (
        metric(&straight, "sft", "loss"),
        metric(&killed, "sft", "loss"),
    );
    assert_eq!(a.len(), steps as usize);
    assert_eq!(
        b.len(),
        steps as usize,
        "the resumed curve has gaps or duplicates"
    );
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * x.abs().max(1.0),
            "step {}: loss {x} vs {y}",
            i + 1
        );
    }
    let (wa, wb) = (
        final_weights(&straight, steps),
        final_weights(&killed, steps),
    );
    assert_eq!(wa.len(), wb.len());
    for ((na, ta), (nb, tb)) in wa.iter().zip(&wb) {
        assert_eq!(na, nb);
        let diff = f64::try_from((ta - tb).abs().max()).unwrap();
        assert!(diff <= 1e-5, "{na} differs by {diff} after resume");
    }
}
