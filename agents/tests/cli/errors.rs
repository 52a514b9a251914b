//! Bad inputs make `reticle` exit with status 1 and an `error:` line that names the problem;
//! nothing panics and nothing silently falls back.

use std::path::{Path, PathBuf};
use std::process::Output;

use image::{Rgb, RgbImage};

use crate::util::{arg, fixture, run, stderr, stdout};

/// A temporary folder with a valid screenshot `shot.png` and, on request, broken things.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shot = RgbImage::from_fn(160, 100, |x, y| Rgb([(x * 7) as u8, (y * 13) as u8, 90]));
        shot.save(dir.path().join("shot.png")).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A copy of the fixture package, changed by `edit`.
    fn package(&self, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
        let dst = self.path(name);
        std::fs::create_dir(&dst).unwrap();
        for e in std::fs::read_dir(fixture()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        edit(&dst);
        dst
    }
}

/// Runs `reticle args…` and checks that it fails cleanly with every `expected` fragment in
/// its error message.
fn check_fails(args: &[&str], expected: &[&str]) {
    check_failed(args, &run(args), expected);
}

/// Checks that the finished `reticle args…` failed cleanly, naming every `expected` fragment.
fn check_failed(args: &[&str], out: &Output, expected: &[&str]) {
    let err = stderr(out);
    // Status 1 is `main`'s error exit; a panic would exit with 101.
    assert_eq!(
        out.status.code(),
        Some(1),
        "`reticle {}` should fail cleanly ({}); stderr:\n{err}",
        args.join(" "),
        out.status
    );
    assert!(
        !err.contains("panicked"),
        "panic in `reticle {}`:\n{err}",
        args.join(" ")
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error:` line in stderr:\n{err}"));
    for want in expected {
        assert!(
            line.contains(want),
            "error {line:?} does not mention {want:?}"
        );
    }
    assert!(
        stdout(out).is_empty(),
        "output despite the error: {}",
        stdout(out)
    );
}

fn ground(model: &Path, image: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["ground", "--model", arg(model), "--image", arg(image)];
    args.extend(["--instruction", "click Save", "--json"]);
    args.extend(extra);
    args.into_iter().map(String::from).collect()
}

fn check_ground_fails(model: &Path, image: &Path, extra: &[&str], expected: &[&str]) {
    let args = ground(model, image, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check_fails(&args, expected);
}

#[test]
fn ground_missing_image_names_the_path() {
    let s = Scratch::new();
    let missing = s.path("no-such-shot.png");
    check_ground_fails(
        &fixture(),
        &missing,
        &["--provider", "cpu"],
        &[arg(&missing), "No such file"],
    );
}

#[test]
fn ground_truncated_png_is_a_decode_error() {
    let s = Scratch::new();
    let bytes = std::fs::read(s.path("shot.png")).unwrap();
    let truncated = s.path("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    check_ground_fails(
        &fixture(),
        &truncated,
        &["--provider", "cpu"],
        &[arg(&truncated), "cannot decode"],
    );
}

#[test]
fn package_without_model_json_is_refused() {
    let s = Scratch::new();
    let pkg = s.package("no-manifest", |p| {
        std::fs::remove_file(p.join("model.json")).unwrap();
    });
    let expected = [arg(&pkg), "cannot read model.json"];
    check_ground_fails(&pkg, &s.path("shot.png"), &["--provider", "cpu"], &expected);
    let data = arg(s.dir.path());
    check_fails(
        &[
            "eval",
            "--model",
            arg(&pkg),
            "--data",
            data,
            "--provider",
            "cpu",
        ],
        &expected,
    );
}

#[test]
fn package_with_manifest_version_99_is_refused() {
    let s = Scratch::new();
    let pkg = s.package("version-99", |p| {
        let path = p.join("model.json");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m["version"] = 99.into();
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    });
    check_ground_fails(
        &pkg,
        &s.path("shot.png"),
        &["--provider", "cpu"],
        &["manifest version 99 is not supported", "reads version 1"],
    );
}

#[test]
fn ground_depth_with_an_rgb_package_is_refused() {
    let s = Scratch::new();
    let depth = s.path("d.png");
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(160, 100, image::Luma([800]))
        .save(&depth)
        .unwrap();
    check_ground_fails(
        &fixture(),
        &s.path("shot.png"),
        &["--provider", "cpu", "--depth", arg(&depth)],
        &["depth", "takes RGB input and does not use a depth image"],
    );
}

#[test]
fn annotate_refuses_an_unknown_extension_and_a_missing_folder() {
    let s = Scratch::new();
    let gif = s.path("out.gif");
    check_ground_fails(
        &fixture(),
        &s.path("shot.png"),
        &["--provider", "cpu", "--annotate", arg(&gif)],
        &[arg(&gif), "unknown image extension"],
    );
    let missing = s.path("no/such/folder/out.png");
    check_ground_fails(
        &fixture(),
        &s.path("shot.png"),
        &["--provider", "cpu", "--annotate", arg(&missing)],
        &[arg(&missing), "does not exist"],
    );
    assert!(!s.path("no").exists(), "a missing folder was created");
}

#[test]
fn unknown_provider_is_refused() {
    let s = Scratch::new();
    check_ground_fails(
        &fixture(),
        &s.path("shot.png"),
        &["--provider", "tpu"],
        &["provider", "`tpu`"],
    );
}

#[test]
fn eval_missing_dataset_names_it() {
    let s = Scratch::new();
    let missing = s.path("no-such-data");
    check_fails(
        &[
            "eval",
            "--model",
            arg(&fixture()),
            "--data",
            arg(&missing),
            "--provider",
            "cpu",
        ],
        &[arg(&missing)],
    );
}

/// Whether this machine has an NVIDIA GPU the driver exposes.
fn has_nvidia_gpu() -> bool {
    Path::new("/dev/nvidia0").exists()
}

/// `--provider cuda` must never run on the CPU: without a GPU (or without a CUDA build of
/// ONNX Runtime) it fails and says why; with one, the run reports CUDA.
#[test]
fn provider_cuda_fails_without_a_gpu_and_never_falls_back_to_cpu() {
    let s = Scratch::new();
    let args = ground(&fixture(), &s.path("shot.png"), &["--provider", "cuda"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    if out.status.success() {
        assert!(
            has_nvidia_gpu(),
            "`--provider cuda` succeeded on a machine without a GPU"
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["provider"], "cuda",
            "asked for cuda, ran on {}",
            v["provider"]
        );
    } else {
        check_failed(&args, &out, &["execution provider cuda"]);
    }
}
