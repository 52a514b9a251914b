//! Parity between tch and an exported package: reference inputs and tch outputs written to a
//! `.npz` fixture, and a runner for the Python checker (`onnx.checker` + ONNX Runtime) that
//! compares them.
//!
//! The trainer never links ONNX Runtime, so the ONNX side runs in the set-up's tools venv
//! (`$RETICLE_TOOLS_VENV/bin/python`, with onnx, onnxruntime and numpy). The fixture covers
//! the runtime's whole decoding path: image features, a prefill with an empty cache (past = 0)
//! over `[image][left-padded prompt]` with one padded row, then cached single-token steps.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::model::{Policy, ReticleVlm};

/// The checker script, also committed as `trainer/tests/export/check_onnx.py`.
pub const CHECK_SCRIPT: &str = include_str!("../../tests/export/check_onnx.py");

/// Default tolerance: max absolute difference in float32.
pub const DEFAULT_TOLERANCE: f64 = 1e-4;

/// Inputs of a parity check.
#[derive(Debug)]
pub struct ParityInputs {
    /// Normalised `[B, C, H, W]` float pixels.
    pub pixel_values: Tensor,
    /// Prompt ids per row (`<bos>` first); shorter rows are left-padded with `pad`.
    pub prompts: Vec<Vec<i64>>,
    /// Tokens fed one step at a time after the prefill: `steps[s][row]`.
    pub steps: Vec<Vec<i64>>,
    pub pad: i64,
}

impl ParityInputs {
    /// Seeded inputs for `model`: two rows (the second left-padded by two), three steps.
    pub fn seeded(model: &ReticleVlm, seed: i64) -> Self {
        let (w, h, c) = model.input_shape();
        let vocab = model.config().vocab_size as i64;
        tch::manual_seed(seed);
        let pixel_values = Tensor::randn(
            [2, c as i64, i64::from(h), i64::from(w)],
            (Kind::Float, Device::Cpu),
        );
        let id = |i: i64| (i * 37 + 5) % vocab;
        Self {
            pixel_values,
            prompts: vec![(0..6).map(id).collect(), (10..14).map(id).collect()],
            steps: (0..3).map(|s| vec![id(20 + s), id(30 + s)]).collect(),
            pad: 0,
        }
    }
}

/// Runs `model` (tch) on `inputs` and writes inputs and expected outputs to `path` (`.npz`).
///
/// Keys: `pixel_values`, `prompt_ids`, `prefill_attention_mask`, `prefill_position_ids`,
/// `step{s}_ids`, `step{s}_attention_mask`, `step{s}_position_ids`, and the expected
/// `image_features`, `prompt_embeds`, `prefill_logits`, `step{s}_logits`,
/// `present{i}_key`/`present{i}_value` (after the last step).
pub fn write_fixture(model: &ReticleVlm, inputs: &ParityInputs, path: &Path) -> Result<()> {
    let rows = inputs.prompts.len();
    if rows == 0 || inputs.pixel_values.size().first() != Some(&(rows as i64)) {
        return Err(Error::Export {
            path: path.to_path_buf(),
            message: format!("parity inputs need one image per prompt ({rows} prompts)"),
        });
    }
    if let Some(bad) = inputs.steps.iter().find(|s| s.len() != rows) {
        return Err(Error::Export {
            path: path.to_path_buf(),
            message: format!("a parity step has {} tokens for {rows} rows", bad.len()),
        });
    }
    let model_device = model.device();
    let dev = |t: &Tensor| t.to_device(model_device);
    let cpu = |t: Tensor| t.to_device(Device::Cpu).contiguous();
    let mut out: Vec<(String, Tensor)> = Vec::new();
    tch::no_grad(|| -> Result<()> {
        let b = rows as i64;
        let width = inputs.prompts.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * width);
        let mut pmask = Vec::with_capacity(rows * width);
        for p in &inputs.prompts {
            let pad = width - p.len();
            ids.extend(std::iter::repeat_n(inputs.pad, pad).chain(p.iter().copied()));
            pmask.extend(std::iter::repeat_n(0i64, pad).chain(std::iter::repeat_n(1, p.len())));
        }
        let ids = Tensor::from_slice(&ids).view([b, width as i64]);
        let pmask = Tensor::from_slice(&pmask).view([b, width as i64]);
        let px = dev(&inputs.pixel_values.to_kind(Kind::Float));
        let feats = encode_checked(model, &px)?;
        let embeds = model.embed_tokens(&dev(&ids));
        let n_img = feats.size()[1];
        let mut mask = Tensor::cat(
            &[
                &Tensor::ones([b, n_img], (Kind::Int64, Device::Cpu)),
                &pmask,
            ],
            1,
        );
        let pos = (mask.cumsum(1, Kind::Int64) - 1).clamp_min(0);
        let seq = Tensor::cat(&[&feats, &embeds], 1);
        let mut cache = model.new_cache();
        let logits = model.decode(&seq, &dev(&mask), &dev(&pos), Some(&mut cache));
        out.push((
            "pixel_values".into(),
            cpu(inputs.pixel_values.to_kind(Kind::Float)),
        ));
        out.push(("prompt_ids".into(), ids));
        out.push(("prefill_attention_mask".into(), mask.shallow_clone()));
        out.push(("prefill_position_ids".into(), pos.shallow_clone()));
        out.push(("image_features".into(), cpu(feats)));
        out.push(("prompt_embeds".into(), cpu(embeds)));
        out.push(("prefill_logits".into(), cpu(logits)));
        let mut last_pos = pos.select(1, -1);
        for (s, tokens) in inputs.steps.iter().enumerate() {
            let tok = Tensor::from_slice(tokens).view([b, 1]);
            mask = Tensor::cat(
                &[&mask, &Tensor::ones([b, 1], (Kind::Int64, Device::Cpu))],
                1,
            );
            // Not `+= 1`: that would write through the view into the prefill position ids.
            last_pos = &last_pos + 1;
            let step_pos = last_pos.unsqueeze(1);
            let e = model.embed_tokens(&dev(&tok));
            let logits = model.decode(&e, &dev(&mask), &dev(&step_pos), Some(&mut cache));
            out.push((format!("step{s}_ids"), tok));
            out.push((format!("step{s}_attention_mask"), mask.shallow_clone()));
            out.push((format!("step{s}_position_ids"), step_pos));
            out.push((format!("step{s}_logits"), cpu(logits)));
        }
        for (i, layer) in cache.layers.iter().enumerate() {
            if let Some((k, v)) = layer {
                out.push((format!("present{i}_key"), cpu(k.shallow_clone())));
                out.push((format!("present{i}_value"), cpu(v.shallow_clone())));
            }
        }
        Ok(())
    })?;
    Tensor::write_npz(&out, path)?;
    Ok(())
}

/// Encodes images, reporting a wrong input shape as an error instead of a libtorch abort.
fn encode_checked(model: &ReticleVlm, px: &Tensor) -> Result<Tensor> {
    let (w, h, c) = model.input_shape();
    let want = [c as i64, i64::from(h), i64::from(w)];
    if px.dim() != 4 || px.size()[1..] != want {
        return Err(Error::Export {
            path: "parity inputs".into(),
            message: format!("pixel_values {:?} do not match [B, {want:?}]", px.size()),
        });
    }
    Ok(model.encode_images(px))
}

/// What the checker reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityReport {
    /// Graphs that passed `onnx.checker.check_model(full_check=True)`.
    pub checked: Vec<String>,
    /// Max absolute difference per compared output.
    pub diffs: std::collections::BTreeMap<String, f64>,
    pub max_abs_diff: f64,
    pub tolerance: f64,
    pub onnxruntime: String,
}

/// The tools venv's Python: `$RETICLE_TOOLS_VENV/bin/python`, by default under
/// `$HOME/.cache/reticle/tools-venv`. Errors (naming `scripts/setup.sh all`) when missing.
pub fn tools_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("RETICLE_TOOLS_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/reticle/tools-venv")
        }
    };
    tools_python_in(&venv)
}

/// The Python of the tools venv at `venv`; errors (naming `scripts/setup.sh all`) when missing.
pub fn tools_python_in(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        return Err(Error::Export {
            path: python,
            message: "the tools venv (onnx, onnxruntime) is missing: run `scripts/setup.sh all`"
                .into(),
        });
    }
    Ok(python)
}

/// Runs the checker on `package` with `fixture`; fails above `tolerance`.
pub fn run_checker(
    python: &Path,
    package: &Path,
    fixture: &Path,
    tolerance: f64,
) -> Result<ParityReport> {
    run_checker_script(
        python,
        ("check_onnx.py", CHECK_SCRIPT),
        package,
        fixture,
        tolerance,
    )
}

/// Runs the checker `script` (file name, text) on `package` with `fixture`.
pub fn run_checker_script(
    python: &Path,
    script: (&str, &str),
    package: &Path,
    fixture: &Path,
    tolerance: f64,
) -> Result<ParityReport> {
    let dir = fixture.parent().unwrap_or(Path::new("."));
    let (name, text) = script;
    let script = dir.join(name);
    reticle_models::fsutil::write_atomic(&script, text.as_bytes())?;
    let output = Command::new(python)
        .arg(&script)
        .arg(package)
        .arg(fixture)
        .arg("--tolerance")
        .arg(tolerance.to_string())
        .output()
        .map_err(|e| Error::io(python, e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Option<ParityReport> = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok());
    match report {
        Some(r) if output.status.success() && r.max_abs_diff <= tolerance => {
            tracing::info!(max_abs_diff = r.max_abs_diff, tolerance, "onnx parity ok");
            Ok(r)
        }
        _ => Err(Error::Export {
            path: package.to_path_buf(),
            message: format!(
                "parity check failed ({}):\n{stdout}\n{stderr}",
                output.status
            ),
        }),
    }
}

/// Writes a seeded fixture for `model` into `work_dir` and checks `package` against it.
pub fn check_package(
    model: &ReticleVlm,
    package: &Path,
    work_dir: &Path,
    tolerance: f64,
) -> Result<ParityReport> {
    let python = tools_python()?;
    let fixture = work_dir.join("parity.npz");
    write_fixture(model, &ParityInputs::seeded(model, 0), &fixture)?;
    run_checker(&python, package, &fixture, tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tools_venv_names_the_setup_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = tools_python_in(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("scripts/setup.sh all"), "{err}");
    }

    #[test]
    fn fixture_inputs_must_fit_the_model() {
        let m = ReticleVlm::new(&crate::model::VlmConfig::micro(), Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = ParityInputs::seeded(&m, 0);
        inputs.pixel_values = Tensor::zeros([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let err = write_fixture(&m, &inputs, &dir.path().join("f.npz"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not match"), "{err}");
        let mut inputs = ParityInputs::seeded(&m, 0);
        inputs.steps[1].pop();
        assert!(write_fixture(&m, &inputs, &dir.path().join("f.npz")).is_err());
    }
}
