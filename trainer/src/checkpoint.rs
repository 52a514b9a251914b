//! Checkpoints: model weights, optimizer state and trainer state, so that `--resume`
//! continues a killed run exactly.
//!
//! ```text
//! checkpoints/step-000123/model.safetensors
//! checkpoints/step-000123/optim.safetensors
//! checkpoints/step-000123/state.json     {"step": 123, "reticle_version": .., "trainer": ..}
//! checkpoints/latest                     "step-000123"
//! ```
//!
//! **Invariant:** a `step-*` folder is complete. It is written as `.tmp-step-*`, its files are
//! fsynced, and only then is it renamed into place; `latest` is replaced atomically after the
//! rename. A crash leaves at most a `.tmp-*` folder, which loading ignores and the next save
//! deletes.
//!
//! **Invariant:** no checkpoint holds NaN or infinity; `save_checkpoint` refuses such tensors.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use reticle_models::fsutil::write_atomic;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};
use crate::run::RunDir;

const LATEST_FILE: &str = "latest";
const MODEL_FILE: &str = "model.safetensors";
const OPTIM_FILE: &str = "optim.safetensors";
const STATE_FILE: &str = "state.json";
const STEP_PREFIX: &str = "step-";
const TMP_PREFIX: &str = ".tmp-";

/// How checkpoints are kept; the `[checkpoint]` table of a training config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// How many of the newest checkpoints to keep (at least one is always kept).
    #[serde(default = "default_keep_last")]
    pub keep_last: usize,
}

fn default_keep_last() -> usize {
    3
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            keep_last: default_keep_last(),
        }
    }
}

/// A checkpoint read back from disk; tensors are on the CPU, sorted by name.
#[derive(Debug)]
pub struct Checkpoint {
    pub step: u64,
    pub model: Vec<(String, Tensor)>,
    pub optim: Vec<(String, Tensor)>,
    /// The trainer state as it was given to `save_checkpoint`.
    pub state: serde_json::Value,
}

/// What `state.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    step: u64,
    reticle_version: String,
    trainer: serde_json::Value,
}

/// The folder name of the checkpoint of `step`.
pub fn step_dir_name(step: u64) -> String {
    format!("{STEP_PREFIX}{step:06}")
}

/// Saves a checkpoint of `step` into the run's `checkpoints/` folder, points `latest` at it,
/// and prunes older checkpoints (and any left from an abandoned timeline with a later step).
/// Returns the checkpoint folder.
pub fn save_checkpoint(
    dir: &RunDir,
    step: u64,
    model: &[(String, Tensor)],
    optim: &[(String, Tensor)],
    state: &serde_json::Value,
    cfg: &CheckpointConfig,
) -> Result<PathBuf> {
    check_finite(step, "model", model)?;
    check_finite(step, "optimizer", optim)?;

    let root = dir.checkpoints_dir();
    fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    remove_leftovers(&root)?;

    let name = step_dir_name(step);
    let tmp = root.join(format!("{TMP_PREFIX}{name}"));
    let done = root.join(&name);
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write_tensors(&tmp.join(MODEL_FILE), model)?;
    write_tensors(&tmp.join(OPTIM_FILE), optim)?;
    let state_file = StateFile {
        step,
        reticle_version: env!("CARGO_PKG_VERSION").to_string(),
        trainer: state.clone(),
    };
    let state_path = tmp.join(STATE_FILE);
    let text = serde_json::to_vec_pretty(&state_file).map_err(|e| Error::Checkpoint {
        path: state_path.clone(),
        message: format!("cannot serialise the trainer state: {e}"),
    })?;
    write_atomic(&state_path, &text)?;
    sync_dir(&tmp)?;

    if done.exists() {
        // The same step saved by an earlier, abandoned attempt: move it aside first (a
        // folder cannot be renamed onto a non-empty one); a crash here leaves a `.tmp-*`.
        let aside = root.join(format!("{TMP_PREFIX}replaced-{name}"));
        fs::rename(&done, &aside).map_err(|e| Error::io(&done, e))?;
        remove_dir(&aside)?;
    }
    fs::rename(&tmp, &done).map_err(|e| Error::io(&tmp, e))?;
    sync_dir(&root)?;
    write_atomic(&root.join(LATEST_FILE), format!("{name}\n").as_bytes())?;
    tracing::info!(step, path = %done.display(), "saved checkpoint");

    prune(&root, step, cfg.keep_last.max(1))?;
    Ok(done)
}

/// Loads the checkpoint `latest` points at; `None` when the run has no checkpoint yet.
pub fn load_latest(dir: &RunDir) -> Result<Option<Checkpoint>> {
    load_latest_in(&dir.checkpoints_dir())
}

/// [`load_latest`] for the run folder `run_root` without opening the run (read-only).
pub fn load_checkpoint_dir_latest(run_root: &Path) -> Result<Option<Checkpoint>> {
    load_latest_in(&run_root.join("checkpoints"))
}

fn load_latest_in(root: &Path) -> Result<Option<Checkpoint>> {
    let root = root.to_path_buf();
    let latest = root.join(LATEST_FILE);
    let name = match fs::read_to_string(&latest) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A crash between the first rename and writing `latest` leaves a complete
            // checkpoint without a pointer; every `step-*` folder is complete, so use the newest.
            match list_steps(&root)?.last() {
                Some((_, path)) => {
                    tracing::warn!(path = %latest.display(), "no `latest` pointer; using newest");
                    return load_checkpoint(path).map(Some);
                }
                None => return Ok(None),
            }
        }
        Err(e) => return Err(Error::io(&latest, e)),
    };
    if parse_step(&name).is_none() {
        return Err(Error::Checkpoint {
            path: latest,
            message: format!("expected a folder name like step-000123, found {name:?}"),
        });
    }
    let path = root.join(&name);
    if !path.is_dir() {
        return Err(Error::Checkpoint {
            path: latest,
            message: format!("points at {name}, which does not exist"),
        });
    }
    load_checkpoint(&path).map(Some)
}

/// Loads the checkpoint in the folder `path` (a `step-*` folder).
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let model = read_tensors(&path.join(MODEL_FILE))?;
    let optim = read_tensors(&path.join(OPTIM_FILE))?;
    let state_path = path.join(STATE_FILE);
    let text = fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: StateFile = serde_json::from_slice(&text).map_err(|e| Error::Checkpoint {
        path: state_path.clone(),
        message: format!("state.json is not valid: {e}"),
    })?;
    tracing::info!(step = state.step, path = %path.display(), "loaded checkpoint");
    Ok(Checkpoint {
        step: state.step,
        model,
        optim,
        state: state.trainer,
    })
}

/// The variables of `vs` with their names, sorted by name. The tensors share storage with the
/// variables.
pub fn varstore_named(vs: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
}

/// Copies `named` into the variables of `vs` (converting device and dtype). Every variable
/// must be given, with its shape, and no other name may be.
pub fn load_into_varstore(vs: &mut tch::nn::VarStore, named: &[(String, Tensor)]) -> Result<()> {
    let mut vars = vs.variables();
    let given: HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut missing: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|n| !given.contains_key(n))
        .collect();
    let mut unexpected: Vec<&str> = given
        .keys()
        .copied()
        .filter(|n| !vars.contains_key(*n))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        missing.sort_unstable();
        unexpected.sort_unstable();
        return Err(Error::Weights(format!(
            "missing {} tensor(s) [{}], unexpected {} tensor(s) [{}]",
            missing.len(),
            preview(&missing),
            unexpected.len(),
            preview(&unexpected)
        )));
    }
    for (name, var) in vars.iter_mut() {
        let Some(src) = given.get(name.as_str()) else {
            return Err(Error::Weights(format!("missing tensor `{name}`")));
        };
        if var.size() != src.size() {
            return Err(Error::Weights(format!(
                "tensor `{name}` has shape {:?}, the model expects {:?}",
                src.size(),
                var.size()
            )));
        }
        tch::no_grad(|| var.f_copy_(src))?;
    }
    Ok(())
}

fn preview(names: &[&str]) -> String {
    const MAX: usize = 5;
    let mut s = names
        .iter()
        .take(MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX {
        s.push_str(", ...");
    }
    s
}

fn check_finite(step: u64, group: &'static str, named: &[(String, Tensor)]) -> Result<()> {
    for (name, t) in named {
        if !t.is_floating_point() {
            continue;
        }
        let all_finite = bool::try_from(t.f_isfinite()?.f_all()?)?;
        if !all_finite {
            return Err(Error::NonFinite {
                step,
                group,
                name: name.clone(),
            });
        }
    }
    Ok(())
}

fn write_tensors(path: &Path, named: &[(String, Tensor)]) -> Result<()> {
    // safetensors needs contiguous host memory; `detach` drops autograd history.
    let host = named
        .iter()
        .map(|(n, t)| {
            Ok((
                n.as_str(),
                t.f_detach()?
                    .f_to_device(tch::Device::Cpu)?
                    .f_contiguous()?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Tensor::write_safetensors(&host, path).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn read_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if !path.is_file() {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: "file is missing".to_string(),
        });
    }
    let mut named = Tensor::read_safetensors(path).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read safetensors: {e}"),
    })?;
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

/// Makes a rename or file creation in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    let f = fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
    f.sync_all().map_err(|e| Error::io(dir, e))
}

fn remove_dir(path: &Path) -> Result<()> {
    fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
}

fn parse_step(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(STEP_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The `step-*` folders in `root`, oldest first.
fn list_steps(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut steps = Vec::new();
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(steps),
        Err(e) => return Err(Error::io(root, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let name = entry.file_name();
        if let Some(step) = name.to_str().and_then(parse_step) {
            if entry.path().is_dir() {
                steps.push((step, entry.path()));
            }
        }
    }
    steps.sort();
    Ok(steps)
}

/// Deletes `.tmp-*` folders left by a save that was killed.
fn remove_leftovers(root: &Path) -> Result<()> {
    for entry in fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let is_tmp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TMP_PREFIX));
        if is_tmp && entry.path().is_dir() {
            tracing::warn!(path = %entry.path().display(), "removing an unfinished checkpoint");
            remove_dir(&entry.path())?;
        }
    }
    Ok(())
}

/// Keeps the `keep_last` newest checkpoints up to `current`; deletes older ones and any with a
/// step after `current`, which belong to a timeline abandoned by a resume.
fn prune(root: &Path, current: u64, keep_last: usize) -> Result<()> {
    let steps = list_steps(root)?;
    let (kept, abandoned): (Vec<_>, Vec<_>) = steps.into_iter().partition(|(s, _)| *s <= current);
    let n_old = kept.len().saturating_sub(keep_last);
    for (step, path) in kept.iter().take(n_old).chain(abandoned.iter()) {
        tracing::debug!(step, path = %path.display(), "removing checkpoint");
        remove_dir(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn run_dir() -> (tempfile::TempDir, RunDir) {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(&tmp.path().join("run"), "x = 1\n", Device::Cpu).unwrap();
        (tmp, run)
    }

    type Named = Vec<(String, Tensor)>;

    /// Model and optimizer tensors of a toy model.
    fn tensors(seed: i64) -> (Named, Named) {
        tch::manual_seed(seed);
        let model = vec![
            (
                "lm.embed.weight".to_string(),
                Tensor::randn([4, 3], (Kind::Float, Device::Cpu)),
            ),
            (
                "lm.norm.weight".to_string(),
                Tensor::ones([3], (Kind::Float, Device::Cpu)),
            ),
        ];
        let optim = vec![
            (
                "exp_avg.lm.embed.weight".to_string(),
                Tensor::randn([4, 3], (Kind::Float, Device::Cpu)),
            ),
            ("step".to_string(), Tensor::from_slice(&[seed])),
        ];
        (model, optim)
    }

    fn same(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|((na, ta), (nb, tb))| {
                na == nb && ta.kind() == tb.kind() && ta.size() == tb.size() && ta.equal(tb)
            })
    }

    fn sorted(mut v: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn step_folders(run: &RunDir) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(run.checkpoints_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != LATEST_FILE)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_then_load_round_trips() {
        let (_tmp, run) = run_dir();
        assert!(load_latest(&run).unwrap().is_none());
        let (model, optim) = tensors(7);
        let state = serde_json::json!({"step": 12, "seed": 7, "cursor": 96, "best": 0.5});
        let path = save_checkpoint(
            &run,
            12,
            &model,
            &optim,
            &state,
            &CheckpointConfig::default(),
        )
        .unwrap();
        assert!(path.ends_with("step-000012"));
        let latest = fs::read_to_string(run.checkpoints_dir().join(LATEST_FILE)).unwrap();
        assert_eq!(latest.trim(), "step-000012");

        let ck = load_latest(&run).unwrap().unwrap();
        assert_eq!(ck.step, 12);
        assert_eq!(ck.state, state);
        assert!(same(&ck.model, &sorted(model)));
        assert!(same(&ck.optim, &sorted(optim)));
    }

    #[test]
    fn leftover_tmp_folder_is_ignored_then_cleaned() {
        let (_tmp, run) = run_dir();
        let (model, optim) = tensors(1);
        let cfg = CheckpointConfig::default();
        let state = serde_json::json!({});
        save_checkpoint(&run, 10, &model, &optim, &state, &cfg).unwrap();
        // A save of step 20 killed half-way: the folder exists, `latest` was never updated.
        let torn = run.checkpoints_dir().join(".tmp-step-000020");
        fs::create_dir(&torn).unwrap();
        fs::write(torn.join(MODEL_FILE), b"garbage").unwrap();

        assert_eq!(load_latest(&run).unwrap().unwrap().step, 10);
        save_checkpoint(&run, 20, &model, &optim, &state, &cfg).unwrap();
        assert_eq!(step_folders(&run), ["step-000010", "step-000020"]);
        assert_eq!(load_latest(&run).unwrap().unwrap().step, 20);
    }

    #[test]
    fn non_finite_tensors_are_refused_by_name() {
        let (_tmp, run) = run_dir();
        let (mut model, optim) = tensors(2);
        let cfg = CheckpointConfig::default();
        let state = serde_json::json!({});
        model[1].1 = Tensor::from_slice(&[1.0f32, f32::NAN, 2.0]);
        let err = save_checkpoint(&run, 5, &model, &optim, &state, &cfg).unwrap_err();
        assert!(err.to_string().contains("lm.norm.weight"), "{err}");
        assert!(matches!(err, Error::NonFinite { step: 5, .. }), "{err}");

        let (model, mut optim) = tensors(2);
        optim[0].1 = Tensor::from_slice(&[f32::INFINITY]);
        let err = save_checkpoint(&run, 5, &model, &optim, &state, &cfg).unwrap_err();
        assert!(err.to_string().contains("exp_avg.lm.embed.weight"), "{err}");
        assert!(step_folders(&run).is_empty());
        assert!(load_latest(&run).unwrap().is_none());
    }

    #[test]
    fn keeps_the_last_k_and_drops_abandoned_steps() {
        let (_tmp, run) = run_dir();
        let (model, optim) = tensors(3);
        let cfg = CheckpointConfig { keep_last: 2 };
        let state = serde_json::json!({});
        for step in [1, 2, 3, 4] {
            save_checkpoint(&run, step, &model, &optim, &state, &cfg).unwrap();
        }
        assert_eq!(step_folders(&run), ["step-000003", "step-000004"]);
        // Resumed from step 3 after a crash: step 4 is from the abandoned timeline.
        save_checkpoint(&run, 3, &model, &optim, &state, &cfg).unwrap();
        assert_eq!(step_folders(&run), ["step-000003"]);
        assert_eq!(load_latest(&run).unwrap().unwrap().step, 3);
    }

    #[test]
    fn corrupt_or_missing_files_are_named() {
        let (_tmp, run) = run_dir();
        let (model, optim) = tensors(4);
        let state = serde_json::json!({});
        let path = save_checkpoint(
            &run,
            8,
            &model,
            &optim,
            &state,
            &CheckpointConfig::default(),
        )
        .unwrap();
        fs::write(path.join(OPTIM_FILE), b"not safetensors").unwrap();
        let err = load_latest(&run).unwrap_err();
        assert!(err.to_string().contains("optim.safetensors"), "{err}");
        fs::remove_file(path.join(MODEL_FILE)).unwrap();
        let err = load_checkpoint(&path).unwrap_err();
        assert!(err.to_string().contains("model.safetensors"), "{err}");

        fs::write(run.checkpoints_dir().join(LATEST_FILE), "step-000099\n").unwrap();
        let err = load_latest(&run).unwrap_err();
        assert!(err.to_string().contains("latest"), "{err}");
        fs::write(run.checkpoints_dir().join(LATEST_FILE), "\u{0}junk").unwrap();
        let err = load_latest(&run).unwrap_err();
        assert!(err.to_string().contains("latest"), "{err}");
    }

    #[test]
    fn resumed_run_continues_from_its_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run");
        let (model, optim) = tensors(5);
        {
            let run = RunDir::create(&path, "steps = 4\n", Device::Cpu).unwrap();
            let state = serde_json::json!({"step": 2});
            save_checkpoint(
                &run,
                2,
                &model,
                &optim,
                &state,
                &CheckpointConfig::default(),
            )
            .unwrap();
        }
        let (run, config) = RunDir::open_for_resume(&path, Device::Cpu).unwrap();
        assert_eq!(config, "steps = 4\n");
        let ck = load_latest(&run).unwrap().unwrap();
        assert_eq!(ck.step, 2);
        assert_eq!(ck.state["step"], 2);
        assert!(same(&ck.model, &sorted(model)));
    }

    #[test]
    fn varstore_round_trip_and_mismatches() {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let _w = root.sub("proj").randn("weight", &[2, 3], 0.0, 1.0);
        let _b = root.sub("proj").zeros("bias", &[2]);
        let named = varstore_named(&vs);
        let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["proj.bias", "proj.weight"]);
        let saved: Vec<(String, Tensor)> = named
            .iter()
            .map(|(n, t)| (n.clone(), t.detach().copy()))
            .collect();

        let mut other = tch::nn::VarStore::new(Device::Cpu);
        let _w2 = other.root().sub("proj").zeros("weight", &[2, 3]);
        let _b2 = other.root().sub("proj").ones("bias", &[2]);
        load_into_varstore(&mut other, &saved).unwrap();
        assert!(same(&varstore_named(&other), &saved));
        // The copy is a leaf that still requires grad.
        assert!(varstore_named(&other)
            .iter()
            .all(|(_, t)| t.requires_grad()));

        let err = load_into_varstore(&mut other, &saved[..1]).unwrap_err();
        assert!(err.to_string().contains("proj.weight"), "{err}");
        let mut wrong = saved
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect::<Vec<_>>();
        wrong[1].1 = Tensor::zeros([3, 2], (Kind::Float, Device::Cpu));
        let err = load_into_varstore(&mut other, &wrong).unwrap_err();
        assert!(err.to_string().contains("proj.weight"), "{err}");
        wrong[1].0 = "proj.extra".to_string();
        let err = load_into_varstore(&mut other, &wrong).unwrap_err();
        assert!(err.to_string().contains("proj.extra"), "{err}");
    }
}
