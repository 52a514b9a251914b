//! The pointer policy end to end on micro models: SFT memorises a few records, GRPO raises
//! the reward, a killed run resumes to the same weights, and the exported graph matches tch.

use std::path::Path;
use std::time::{Duration, Instant};

use reticle_suites::SuiteKind;
use reticle_trainer::pointer::{self, PointerSession};
use reticle_trainer::session::StartOptions;

use crate::resume::{final_weights, train};
use crate::util::{dataset, metric};

fn pointer_config(train: &[&Path], extra: &str) -> String {
    let list: Vec<String> = train
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!(
        "[model]\narchitecture = \"pointer\"\nsize = \"micro\"\n[data]\ntrain = [{}]\n{extra}\n",
        list.join(", ")
    )
}

fn start(dir: &Path, name: &str, cfg: &str, init: Option<&Path>) -> PointerSession {
    PointerSession::start(&StartOptions {
        out: dir.join(name),
        config_toml: Some(cfg.to_string()),
        resume: false,
        init: init.map(Path::to_path_buf),
        device: tch::Device::Cpu,
    })
    .unwrap()
}

#[test]
fn pointer_sft_memorises_a_few_records() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dataset(dir.path(), SuiteKind::Ui, 6, 3);
    let cfg = pointer_config(
        &[&ui],
        "[sft]\nsteps = 300\nbatch_size = 6\n[optim]\nlr = 3e-3\nwarmup_steps = 10\ntotal_steps = 300\n\
         [run]\ncheckpoint_every = 1000\n",
    );
    // 300 steps, not 150: libtorch's generator is global to the process, so the tests running
    // beside this one change its initialisation; at 150 steps one start in several memorised
    // only 4 of 6 (seen once the nothing-head test joined the binary).
    let mut s = start(dir.path(), "sft", &cfg, None);
    let before = pointer::evaluate(&s.model, &s.encoder, &s.records, &s.examples).unwrap();
    pointer::run_sft(&mut s).unwrap();
    let after = pointer::evaluate(&s.model, &s.encoder, &s.records, &s.examples).unwrap();
    let ce = metric(&dir.path().join("sft"), "sft", "loss/ce");
    assert!(
        ce[ce.len() - 1] < 0.5 * ce[0],
        "cross-entropy {} → {}",
        ce[0],
        ce[ce.len() - 1]
    );
    // Memorised: the most probable candidate is in the target for (nearly) every record. The
    // region rule (what the runtime clicks) is coarser on the micro model's 8×6 patches.
    assert!(
        after.argmax_accuracy >= 5.0 / 6.0,
        "memorised {after}, before {before}"
    );
    assert!(after.accuracy >= 0.5, "region rule {after}");
}

#[test]
fn pointer_grpo_raises_the_reward() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dataset(dir.path(), SuiteKind::Ui, 8, 5);
    // A short SFT warm start so that groups have reward variance, then GRPO alone.
    let sft = pointer_config(
        &[&ui],
        "[sft]\nsteps = 10\nbatch_size = 8\n[optim]\nlr = 3e-3\nwarmup_steps = 0\ntotal_steps = 10\n\
         [run]\ncheckpoint_every = 1000\n",
    );
    let mut s = start(dir.path(), "sft", &sft, None);
    pointer::run_sft(&mut s).unwrap();
    drop(s);
    let grpo = pointer_config(
        &[&ui],
        "[grpo]\nsteps = 60\nbatch_prompts = 8\ngroup_size = 8\ndynamic_sampling = false\n\
         [grpo.loss]\nbeta = 0.0\n[optim]\nlr = 3e-3\nwarmup_steps = 0\ntotal_steps = 60\n\
         [run]\nseed = 3\ncheckpoint_every = 1000\n",
    );
    let sft_dir = dir.path().join("sft");
    let mut g = start(dir.path(), "grpo", &grpo, Some(&sft_dir));
    pointer::run_grpo(&mut g).unwrap();
    let r = metric(&dir.path().join("grpo"), "grpo", "reward");
    let first: f64 = r[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = r[r.len() - 10..].iter().sum::<f64>() / 10.0;
    assert!(last > first + 0.05, "mean reward {first:.3} → {last:.3}");
    // The pointer's entropy and the share of flat groups are logged.
    assert_eq!(
        metric(&dir.path().join("grpo"), "grpo", "entropy").len(),
        60
    );
    assert_eq!(
        metric(&dir.path().join("grpo"), "grpo", "zero_variance_share").len(),
        60
    );
}

#[test]
fn a_killed_pointer_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dataset(dir.path(), SuiteKind::Ui, 6, 7);
    let sp = dataset(dir.path(), SuiteKind::Spatial, 6, 7);
    let steps = 120u64;
    let cfg_path = dir.path().join("cfg.toml");
    std::fs::write(
        &cfg_path,
        pointer_config(
            &[&ui, &sp],
            &format!(
                "[sft]\nsteps = {steps}\nbatch_size = 4\n[optim]\nlr = 1e-3\ntotal_steps = {steps}\n\
                 [run]\nseed = 5\ncheckpoint_every = 10\n"
            ),
        ),
    )
    .unwrap();
    let cfg = cfg_path.to_str().unwrap();
    let straight = dir.path().join("straight");
    let killed = dir.path().join("killed");
    let run = |out: &Path| {
        [
            "sft",
            "--config",
            cfg,
            "--out",
            out.to_str().unwrap(),
            "--device",
            "cpu",
        ]
        .map(String::from)
    };
    let args = run(&straight);
    assert!(train(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .wait()
        .unwrap()
        .success());
    let args = run(&killed);
    let mut child = train(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(300);
    while !killed.join("checkpoints/step-000020").exists() {
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join(format!("checkpoints/step-{steps:06}")).exists());
    let resumed = train(&[
        "sft",
        "--resume",
        "--out",
        killed.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(resumed.wait_with_output().unwrap().status.success());
    assert_eq!(metric(&killed, "sft", "loss").len(), steps as usize);
    let (a, b) = (
        final_weights(&straight, steps),
        final_weights(&killed, steps),
    );
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let diff = f64::try_from((ta - tb).abs().max()).unwrap();
        assert!(diff <= 1e-5, "{na} differs by {diff} after resume");
    }
}

#[test]
fn pointer_export_matches_tch_in_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dataset(dir.path(), SuiteKind::Ui, 4, 1);
    let cfg = pointer_config(
        &[&ui],
        "[model.overrides]\nrelative = true\n\
         [model.overrides.text]\nbuckets = 512\nmax_words = 12\npieces_per_word = 8\n\
         pieces_per_span = 16\nmax_candidates = 12\nmax_elements = 4\n\
         [sft]\nsteps = 5\nbatch_size = 4\n[optim]\nlr = 3e-3\ntotal_steps = 5\n\
         [run]\ncheckpoint_every = 5\n",
    );
    let mut s = start(dir.path(), "run", &cfg, None);
    // The screens' controls are proposed as candidates, as the runtime will propose them.
    let elements = s
        .examples
        .iter()
        .flat_map(|e| &e.text.candidates)
        .filter(|c| c.kind == reticle_models::pointer::CandidateKind::Element)
        .count();
    assert!(elements >= 4, "{elements} element candidates in 4 screens");
    pointer::run_sft(&mut s).unwrap();
    // The relative head (step 6) has moved off its zero start, so parity covers it.
    let rel = f64::try_from(
        s.model.var_store().variables()["head.relative.weight"]
            .abs()
            .max(),
    )
    .unwrap();
    assert!(rel > 1e-3, "relative head weights {rel}");
    let pkg = dir.path().join("pkg");
    let report =
        reticle_trainer::export::export_package(&dir.path().join("run"), &pkg, &Default::default())
            .unwrap();
    assert_eq!(report.step, 5);
    let m = reticle_models::manifest::Manifest::load(&pkg).unwrap();
    assert_eq!(
        m.architecture,
        reticle_models::manifest::Architecture::Pointer
    );
    assert!(m.perception.ocr.is_some(), "a pointer package reads text");
    assert_eq!(m.pointer.as_ref().map(|p| p.text.max_elements), Some(4));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let r = reticle_trainer::export::pointer_package::check_package(&s.model, &pkg, &work, 1e-4)
        .unwrap();
    assert!(r.max_abs_diff <= 1e-4, "{:?}", r.diffs);
    assert!(r.diffs.contains_key("pointer_distribution"));
}

#[test]
fn the_nothing_head_learns_to_refuse_exports_and_starts_from_a_package() {
    let dir = tempfile::tempdir().unwrap();
    let mut suite = reticle_suites::SuiteConfig::new(SuiteKind::Ui, 8, 11);
    suite.ui.nothing_rate = 0.5;
    let ui = dir.path().join("ui-nothing");
    reticle_suites::generate(&suite, &ui, &|_| {}).unwrap();
    let text = "[model.overrides.text]\nbuckets = 512\nmax_words = 12\npieces_per_word = 8\n\
                pieces_per_span = 16\nmax_candidates = 12\nmax_elements = 0\n";
    // Without the head, a record naming nothing is refused with the override to set.
    let plain = pointer_config(&[&ui], &format!("{text}[sft]\nsteps = 1\n"));
    let err = PointerSession::start(&StartOptions {
        out: dir.path().join("plain"),
        config_toml: Some(plain),
        resume: false,
        init: None,
        device: tch::Device::Cpu,
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("nothing = true"), "{err}");

    let cfg = pointer_config(
        &[&ui],
        &format!(
            "[model.overrides]\nnothing = true\n{text}\
             [sft]\nsteps = 250\nbatch_size = 8\n[optim]\nlr = 3e-3\nwarmup_steps = 10\n\
             total_steps = 250\n[run]\ncheckpoint_every = 250\n"
        ),
    );
    let mut s = start(dir.path(), "run", &cfg, None);
    let n_nothing = s.records.iter().filter(|r| r.names_nothing()).count();
    assert!(
        (2..=6).contains(&n_nothing),
        "{n_nothing} of 8 name nothing"
    );
    let before = pointer::evaluate(&s.model, &s.encoder, &s.records, &s.examples).unwrap();
    assert_eq!(before.by_kind["nothing"].0, 0, "{before}");
    pointer::run_sft(&mut s).unwrap();
    let after = pointer::evaluate(&s.model, &s.encoder, &s.records, &s.examples).unwrap();
    // Memorised: every record naming nothing is answered "nothing", and the others point at
    // their target (the micro model's 8×6 patches may miss one small checkbox).
    assert_eq!(after.by_kind["nothing"], (n_nothing, n_nothing), "{after}");
    assert!(after.argmax_accuracy >= 7.0 / 8.0, "{after}");

    // The exported graph carries the nothing logit, the manifest says so, and ONNX Runtime
    // agrees with tch.
    let pkg = dir.path().join("pkg");
    reticle_trainer::export::export_package(&dir.path().join("run"), &pkg, &Default::default())
        .unwrap();
    let m = reticle_models::manifest::Manifest::load(&pkg).unwrap();
    assert!(m.pointer.as_ref().is_some_and(|p| p.nothing));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let r = reticle_trainer::export::pointer_package::check_package(&s.model, &pkg, &work, 1e-4)
        .unwrap();
    assert!(r.max_abs_diff <= 1e-4, "{:?}", r.diffs);

    // `--init PACKAGE` reads the weights back from the graph: the same evaluation.
    let again = start(dir.path(), "from-package", &cfg, Some(&pkg));
    let e = pointer::evaluate(
        &again.model,
        &again.encoder,
        &again.records,
        &again.examples,
    )
    .unwrap();
    assert_eq!(
        (e.accuracy, e.by_kind.clone()),
        (after.accuracy, after.by_kind.clone())
    );
    // A run whose model lacks the package's head is refused with the override to set.
    let err = PointerSession::start(&StartOptions {
        out: dir.path().join("bad-init"),
        config_toml: Some(pointer_config(&[&ui], &format!("{text}[sft]\nsteps = 1\n"))),
        resume: false,
        init: Some(pkg.clone()),
        device: tch::Device::Cpu,
    })
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("nothing"), "{err}");
}
