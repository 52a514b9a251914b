use reticle_models::manifest::{Channels, Manifest};
use reticle_trainer::export::{self, ExportOptions};

use crate::util::trained_run;

#[test]
fn package_holds_graphs_tokenizer_manifest_weights_and_card() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained_run(dir.path(), 4);
    let pkg = dir.path().join("out/pkg");
    let report = export::export_package(&run, &pkg, &ExportOptions::default()).unwrap();
    assert_eq!(report.step, 4);

    let m = Manifest::load(&pkg).unwrap();
    assert_eq!(m.name, "pkg");
    assert_eq!(m.opset, 17);
    let vlm = m.vlm().unwrap();
    assert_eq!(vlm.decoder.num_layers, 2);
    assert_eq!(vlm.decoder.num_image_tokens, 40);
    assert_eq!(m.preprocess.channels, Channels::Rgb);
    assert_eq!(m.preprocess.mean, vec![0.5; 3]);
    assert_eq!(vlm.max_new_tokens, 40);
    assert!(!m.tasks.is_empty());
    for f in m.files() {
        assert!(pkg.join(&f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read(pkg.join("tokenizer.json")).unwrap(),
        std::fs::read(run.join("tokenizer.json")).unwrap()
    );
    // The weights file holds the variables under the ONNX initializer names.
    let weights = tch::Tensor::read_safetensors(pkg.join("weights.safetensors")).unwrap();
    let names: Vec<&str> = weights.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"model.layers.1.self_attn.q_proj.weight"));
    assert!(names.contains(&"vision.patch_embed.weight"));
    // The card says how the model was trained and what the last evaluation gave.
    let card = std::fs::read_to_string(pkg.join("README.md")).unwrap();
    assert!(card.contains("exported step: 4"), "{card}");
    assert!(card.contains("git revision"), "{card}");
    assert!(card.contains("| format_rate |"), "{card}");
    // No temporary folder is left beside the package.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("pkg")]);
}

#[test]
fn export_refuses_a_non_empty_folder_unless_forced_and_never_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = trained_run(dir.path(), 1);
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("keep.txt"), "mine").unwrap();
    let err = export::export_package(&run, &pkg, &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not empty"), "{err}");
    assert!(pkg.join("keep.txt").is_file());

    let forced = ExportOptions {
        force: true,
        ..Default::default()
    };
    export::export_package(&run, &pkg, &forced).unwrap();
    assert!(!pkg.join("keep.txt").exists());
    assert!(pkg.join("model.json").is_file());

    // Never over a run directory, even with --force.
    let err = export::export_package(&run, &run, &forced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("training run"), "{err}");
    assert!(run.join("config.toml").is_file());

    // A checkpoint folder exports that checkpoint.
    let ck = run.join("checkpoints/step-000001");
    let report = export::export_package(&ck, &dir.path().join("pkg2"), &forced).unwrap();
    assert_eq!(report.step, 1);
    // Something that is neither a run nor a checkpoint is named in the error.
    let err = export::export_package(dir.path(), &dir.path().join("pkg3"), &forced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither a run directory"), "{err}");
}
