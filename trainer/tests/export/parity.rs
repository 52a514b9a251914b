use reticle_trainer::export::{self, parity, ExportOptions};

use crate::util::trained_run;

/// tch and ONNX Runtime agree on image features, the prefill (past = 0, one left-padded row)
/// and three cached decoding steps, and every graph passes `onnx.checker` (full check).
#[test]
fn onnx_runtime_matches_tch_within_1e_4() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained_run(dir.path(), 20);
    let pkg = dir.path().join("pkg");
    export::export_package(&run, &pkg, &ExportOptions::default()).unwrap();

    // Fails (never skips) when the tools venv is missing: the error names `scripts/setup.sh all`.
    let python = parity::tools_python().unwrap_or_else(|e| panic!("{e}"));
    let trained = export::load_source(&run).unwrap();
    let work = dir.path().join("parity");
    std::fs::create_dir_all(&work).unwrap();
    let fixture = work.join("fixture.npz");
    let inputs = parity::ParityInputs::seeded(&trained.model, 7);
    parity::write_fixture(&trained.model, &inputs, &fixture).unwrap();
    let report = parity::run_checker(&python, &pkg, &fixture, 1e-4).unwrap();
    eprintln!("parity: {report:#?}");
    assert_eq!(report.checked.len(), 3);
    for key in [
        "image_features",
        "prompt_embeds",
        "prefill_logits",
        "step0_logits",
        "step2_logits",
        "present1_value",
    ] {
        let d = report.diffs.get(key).copied();
        assert!(matches!(d, Some(x) if x <= 1e-4), "{key}: {d:?}");
    }
    assert!(report.max_abs_diff <= 1e-4, "{report:?}");
}

/// The checker really compares: a package exported from other weights fails it.
#[test]
fn parity_check_fails_for_different_weights() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained_run(dir.path(), 2);
    let pkg = dir.path().join("pkg");
    export::export_package(&run, &pkg, &ExportOptions::default()).unwrap();
    let trained = export::load_source(&run).unwrap();
    // Perturb one weight in the reference model only.
    tch::no_grad(|| {
        let vars = reticle_trainer::model::Policy::var_store(&trained.model).variables();
        let w = &vars["model.layers.0.mlp.up_proj.weight"];
        let _ = w.shallow_clone().g_add_scalar_(0.05);
    });
    let work = dir.path().join("parity");
    std::fs::create_dir_all(&work).unwrap();
    let err = parity::check_package(&trained.model, &pkg, &work, 1e-4)
        .unwrap_err()
        .to_string();
    assert!(err.contains("parity check failed"), "{err}");
    assert!(
        err.contains("exceeds"),
        "the checker must fail on the tolerance: {err}"
    );
}
