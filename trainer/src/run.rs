//! A run directory: everything one training run leaves on disk.
//!
//! ```text
//! <run>/config.toml      the exact TOML the run uses
//! <run>/run.json         git revision, start time, host, reticle version, device; resumes
//! <run>/checkpoints/     step-000123/ folders and the `latest` pointer (see `checkpoint`)
//! <run>/metrics.jsonl    one JSON object per logged step (see `metrics_log`)
//! <run>/plots/           PNG curves (see `plot`)
//! ```
//!
//! **Invariant:** a folder that holds `config.toml` holds a run; `RunDir::create` refuses it,
//! only `RunDir::open_for_resume` opens it, and a resume never rewrites the saved config.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use reticle_models::fsutil::write_atomic;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const CONFIG_FILE: &str = "config.toml";
const RUN_INFO_FILE: &str = "run.json";

/// Where the run was started or resumed, and from which code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `git rev-parse HEAD` of the working directory, `-dirty` appended when the checkout has
    /// uncommitted changes, or `unknown`.
    pub git_revision: String,
    /// UTC time in RFC 3339.
    pub time: String,
    pub hostname: String,
    pub reticle_version: String,
    /// The libtorch device, e.g. `cpu` or `cuda:0`.
    pub device: String,
}

impl Provenance {
    /// Describes this process now, training on `device`.
    pub fn collect(device: tch::Device) -> Self {
        Self {
            git_revision: git_revision(Path::new(".")),
            time: now_rfc3339(),
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            reticle_version: env!("CARGO_PKG_VERSION").to_string(),
            device: device_name(device),
        }
    }
}

/// The contents of `run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub started: Provenance,
    /// One entry per `--resume`, oldest first.
    #[serde(default)]
    pub resumes: Vec<Provenance>,
}

/// An open run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Creates a new run in `path` (which may exist if it holds no run yet), saving
    /// `config_toml` and the provenance of this process.
    pub fn create(path: &Path, config_toml: &str, device: tch::Device) -> Result<RunDir> {
        let run = RunDir {
            root: path.to_path_buf(),
        };
        if run.config_path().exists() {
            return Err(Error::Run {
                path: path.to_path_buf(),
                message: "already holds a run (config.toml exists); resume it or pick a new \
                          folder"
                    .to_string(),
            });
        }
        run.create_subdirs()?;
        let info = RunInfo {
            started: Provenance::collect(device),
            resumes: Vec::new(),
        };
        run.write_info(&info)?;
        // The config goes last: its presence marks a complete run folder.
        write_atomic(&run.config_path(), config_toml.as_bytes())?;
        tracing::info!(run = %path.display(), git = %info.started.git_revision, "created run");
        Ok(run)
    }

    /// Opens an existing run for `--resume`; returns it with the TOML it was started with.
    /// Records the resume in `run.json`.
    pub fn open_for_resume(path: &Path, device: tch::Device) -> Result<(RunDir, String)> {
        let run = RunDir {
            root: path.to_path_buf(),
        };
        let config_path = run.config_path();
        if !config_path.is_file() {
            return Err(Error::Run {
                path: path.to_path_buf(),
                message: "holds no run to resume (config.toml is missing)".to_string(),
            });
        }
        let config = fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let mut info = run.read_info()?;
        let now = Provenance::collect(device);
        if now.git_revision != info.started.git_revision {
            tracing::warn!(
                started = %info.started.git_revision,
                now = %now.git_revision,
                "resuming a run with different code"
            );
        }
        info.resumes.push(now);
        run.create_subdirs()?;
        run.write_info(&info)?;
        tracing::info!(run = %path.display(), n_resumes = info.resumes.len(), "resuming run");
        Ok((run, config))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn info_path(&self) -> PathBuf {
        self.root.join(RUN_INFO_FILE)
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    pub fn plots_dir(&self) -> PathBuf {
        self.root.join("plots")
    }

    /// Reads `run.json`.
    pub fn read_info(&self) -> Result<RunInfo> {
        let path = self.info_path();
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Run {
            path: path.clone(),
            message: format!("run.json is not valid: {e}"),
        })
    }

    fn write_info(&self, info: &RunInfo) -> Result<()> {
        let path = self.info_path();
        let mut text = serde_json::to_string_pretty(info).map_err(|e| Error::Run {
            path: path.clone(),
            message: format!("cannot serialise run.json: {e}"),
        })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())?;
        Ok(())
    }

    fn create_subdirs(&self) -> Result<()> {
        for dir in [self.root.clone(), self.checkpoints_dir(), self.plots_dir()] {
            fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(())
    }
}

/// `git rev-parse HEAD` in `dir`, with `-dirty` when `git status --porcelain` lists changes;
/// `unknown` when `dir` is not in a git checkout or git is not installed.
pub fn git_revision(dir: &Path) -> String {
    let git = |args: &[&str]| -> Option<String> {
        // `--no-optional-locks`: reading the status must not rewrite the index of a checkout
        // that another process (an editor, a second run) may be using.
        let out = Command::new("git")
            .arg("--no-optional-locks")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(rev) = git(&["rev-parse", "HEAD"]).filter(|r| !r.is_empty()) else {
        return "unknown".to_string();
    };
    match git(&["status", "--porcelain"]) {
        Some(status) if status.is_empty() => rev,
        _ => format!("{rev}-dirty"),
    }
}

fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".to_string(),
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_writes_config_and_info() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run");
        let run = RunDir::create(&path, "lr = 1e-3\n", tch::Device::Cpu).unwrap();
        assert_eq!(
            fs::read_to_string(run.config_path()).unwrap(),
            "lr = 1e-3\n"
        );
        assert!(run.checkpoints_dir().is_dir());
        assert!(run.plots_dir().is_dir());
        let info = run.read_info().unwrap();
        assert_eq!(info.started.device, "cpu");
        assert_eq!(info.started.reticle_version, env!("CARGO_PKG_VERSION"));
        assert!(!info.started.git_revision.is_empty());
        assert!(info.started.time.contains('T'), "{}", info.started.time);
        assert!(info.resumes.is_empty());
    }

    #[test]
    fn create_refuses_an_existing_run() {
        let tmp = tempfile::tempdir().unwrap();
        RunDir::create(tmp.path(), "a = 1\n", tch::Device::Cpu).unwrap();
        let err = RunDir::create(tmp.path(), "a = 2\n", tch::Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("already holds a run"), "{err}");
        // The first config is untouched.
        let saved = fs::read_to_string(tmp.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(saved, "a = 1\n");
    }

    #[test]
    fn resume_returns_the_saved_config_and_records_itself() {
        let tmp = tempfile::tempdir().unwrap();
        RunDir::create(tmp.path(), "steps = 10\n", tch::Device::Cpu).unwrap();
        let (run, config) = RunDir::open_for_resume(tmp.path(), tch::Device::Cpu).unwrap();
        assert_eq!(config, "steps = 10\n");
        assert_eq!(run.read_info().unwrap().resumes.len(), 1);
        RunDir::open_for_resume(tmp.path(), tch::Device::Cpu).unwrap();
        assert_eq!(run.read_info().unwrap().resumes.len(), 2);
    }

    #[test]
    fn resume_of_an_empty_folder_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let err = RunDir::open_for_resume(tmp.path(), tch::Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("no run to resume"), "{err}");
    }

    #[test]
    fn git_revision_where_git_cannot_run_is_unknown() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(git_revision(&tmp.path().join("missing")), "unknown");
    }

    #[test]
    fn git_revision_of_this_checkout_is_a_hash() {
        let rev = git_revision(Path::new(env!("CARGO_MANIFEST_DIR")));
        if rev == "unknown" {
            return; // Built from a source archive or without git.
        }
        let hash = rev.trim_end_matches("-dirty");
        assert_eq!(hash.len(), 40, "{rev}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{rev}");
    }
}
