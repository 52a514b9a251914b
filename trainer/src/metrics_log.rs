//! The metrics of a run as JSON lines, and the progress bar of the training loop.
//!
//! Each line of `metrics.jsonl` is one flat object:
//! `{"step": 12, "phase": "grpo", "time": 1763733600.25, "reward": 0.5, "kl": null, ..}`,
//! where `time` is seconds since the Unix epoch and non-finite values are written as `null`.
//!
//! **Invariant:** every line of the file is complete JSON. Lines are written whole and
//! flushed one at a time; a line torn by a kill is cut off when the log is opened again.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reticle_models::fsutil::write_atomic;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::run::RunDir;

/// Keys every record has; a metric cannot use them.
pub const RESERVED_KEYS: [&str; 3] = ["step", "phase", "time"];

/// An append-only `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens (or creates) the metrics file of `run` for appending.
    pub fn open(run: &RunDir) -> Result<MetricsLog> {
        Self::open_path(&run.metrics_path())
    }

    /// Opens (or creates) the metrics file at `path` for appending.
    pub fn open_path(path: &Path) -> Result<MetricsLog> {
        if let Some(text) = read_if_exists(path)? {
            if !text.is_empty() && !text.ends_with('\n') {
                let keep = text.rfind('\n').map_or(0, |i| i + 1);
                tracing::warn!(path = %path.display(), "dropping a torn last metrics line");
                write_atomic(path, &text.as_bytes()[..keep])?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record. `phase` is `sft`, `grpo` or `eval`.
    pub fn log(&mut self, step: u64, phase: &str, values: &BTreeMap<String, f64>) -> Result<()> {
        let mut record = Map::new();
        record.insert("step".into(), Value::from(step));
        record.insert("phase".into(), Value::from(phase));
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        record.insert("time".into(), json_number(time));
        for (key, &value) in values {
            if RESERVED_KEYS.contains(&key.as_str()) {
                return Err(Error::Metrics {
                    path: self.path.clone(),
                    message: format!("metric name `{key}` is reserved"),
                });
            }
            record.insert(key.clone(), json_number(value));
        }
        let mut line = Value::Object(record).to_string();
        line.push('\n');
        // One unbuffered write per line: a reader (or a plot) sees whole lines only.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Drops every record with a step after `step`, so that a resumed run's curve has no
    /// duplicates. Unreadable lines are dropped too.
    pub fn truncate_after(&mut self, step: u64) -> Result<()> {
        let text = read_if_exists(&self.path)?.unwrap_or_default();
        let mut kept = String::with_capacity(text.len());
        let (mut n_dropped, mut n_bad) = (0usize, 0usize);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match record_step(line) {
                Some(s) if s <= step => {
                    kept.push_str(line);
                    kept.push('\n');
                }
                Some(_) => n_dropped += 1,
                None => n_bad += 1,
            }
        }
        if n_dropped == 0 && n_bad == 0 {
            return Ok(());
        }
        if n_bad > 0 {
            tracing::warn!(path = %self.path.display(), n_bad, "dropped unreadable metrics lines");
        }
        tracing::info!(path = %self.path.display(), step, n_dropped, "truncated metrics");
        write_atomic(&self.path, kept.as_bytes())?;
        // The rename replaced the file; reopen so appends go to the new one.
        *self = Self::open_path(&self.path)?;
        Ok(())
    }
}

fn record_step(line: &str) -> Option<u64> {
    serde_json::from_str::<Value>(line)
        .ok()?
        .get("step")?
        .as_u64()
}

fn json_number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Formats a metric for humans: 4 decimals, or scientific notation for tiny or huge values.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() || (1e-3..1e4).contains(&a) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

fn format_values(values: &[(&str, f64)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k} {}", format_value(*v)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Progress of the training loop: a bar on a terminal, else an info event every
/// `log_every` steps so that CI logs show progress.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    total_steps: u64,
    start_step: u64,
    log_every: u64,
    started: Instant,
}

impl Progress {
    /// Progress from `start_step` (non-zero on resume) to `total_steps`.
    pub fn new(total_steps: u64, start_step: u64) -> Progress {
        let attended = std::io::stderr().is_terminal();
        let target = if attended {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(total_steps, start_step, target)
    }

    fn with_target(total_steps: u64, start_step: u64, target: ProgressDrawTarget) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_steps), target);
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} ({eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(start_step);
        if !bar.is_hidden() {
            // Keeps the elapsed time and ETA moving during long steps.
            bar.enable_steady_tick(Duration::from_millis(500));
        }
        Progress {
            bar,
            total_steps,
            start_step,
            log_every: (total_steps / 20).max(1),
            started: Instant::now(),
        }
    }

    /// Logs an info event every `n` steps when no bar is shown (default: 5% of the run).
    pub fn with_log_every(mut self, n: u64) -> Progress {
        self.log_every = n.max(1);
        self
    }

    /// Records that `step` is done, with metrics to show (e.g. reward, acc, kl).
    pub fn update(&mut self, step: u64, values: &[(&str, f64)]) {
        let message = format_values(values);
        self.bar.set_position(step);
        self.bar.set_message(message.clone());
        if self.bar.is_hidden() && (step % self.log_every == 0 || step == self.total_steps) {
            let done = step.saturating_sub(self.start_step);
            let secs = self.started.elapsed().as_secs_f64();
            let steps_per_s = if secs > 0.0 { done as f64 / secs } else { 0.0 };
            tracing::info!(
                step,
                total = self.total_steps,
                steps_per_s = %format!("{steps_per_s:.2}"),
                "{message}"
            );
        }
    }

    /// Ends the bar and logs `summary`.
    pub fn finish(self, summary: &str) {
        self.bar.finish_with_message(summary.to_string());
        tracing::info!(
            elapsed_s = %format!("{:.1}", self.started.elapsed().as_secs_f64()),
            "{summary}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn lines(path: &Path) -> Vec<Value> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn writes_one_json_object_per_line_with_null_for_non_finite() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::open_path(&path).unwrap();
        log.log(1, "sft", &values(&[("loss", 2.5)])).unwrap();
        log.log(
            2,
            "grpo",
            &values(&[("reward", f64::NAN), ("kl", f64::INFINITY), ("acc", 0.25)]),
        )
        .unwrap();
        let recs = lines(&path);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["step"], 1);
        assert_eq!(recs[0]["phase"], "sft");
        assert_eq!(recs[0]["loss"], 2.5);
        assert!(recs[0]["time"].as_f64().unwrap() > 0.0);
        assert!(recs[1]["reward"].is_null());
        assert!(recs[1]["kl"].is_null());
        assert_eq!(recs[1]["acc"], 0.25);
    }

    #[test]
    fn reserved_keys_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = MetricsLog::open_path(&tmp.path().join("m.jsonl")).unwrap();
        let err = log.log(1, "sft", &values(&[("step", 1.0)])).unwrap_err();
        assert!(err.to_string().contains("`step`"), "{err}");
    }

    #[test]
    fn truncate_after_drops_later_steps_and_keeps_appending() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let mut log = MetricsLog::open_path(&path).unwrap();
        for step in 1..=5 {
            log.log(step, "grpo", &values(&[("reward", step as f64)]))
                .unwrap();
        }
        log.truncate_after(3).unwrap();
        log.log(4, "grpo", &values(&[("reward", 40.0)])).unwrap();
        let steps: Vec<u64> = lines(&path)
            .iter()
            .map(|r| r["step"].as_u64().unwrap())
            .collect();
        assert_eq!(steps, [1, 2, 3, 4]);
        assert_eq!(lines(&path)[3]["reward"], 40.0);
    }

    #[test]
    fn a_torn_last_line_is_cut_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        fs::write(&path, "{\"step\":1,\"phase\":\"sft\"}\n{\"step\":2,\"ph").unwrap();
        let mut log = MetricsLog::open_path(&path).unwrap();
        log.log(2, "sft", &values(&[("loss", 1.0)])).unwrap();
        let recs = lines(&path);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1]["loss"], 1.0);
    }

    #[test]
    fn open_uses_the_run_metrics_path() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::create(tmp.path(), "", tch::Device::Cpu).unwrap();
        let mut log = MetricsLog::open(&run).unwrap();
        log.log(0, "eval", &values(&[("accuracy", 0.5)])).unwrap();
        assert_eq!(log.path(), run.metrics_path());
        assert_eq!(lines(&run.metrics_path()).len(), 1);
    }

    #[test]
    fn formats_values_for_humans() {
        assert_eq!(format_value(0.51234), "0.5123");
        assert_eq!(format_value(0.0), "0.0000");
        assert_eq!(format_value(0.00021), "2.100e-4");
        assert_eq!(format_value(f64::NAN), "NaN");
    }

    #[test]
    fn hidden_progress_runs_to_the_end() {
        let mut p = Progress::with_target(10, 4, ProgressDrawTarget::hidden()).with_log_every(2);
        for step in 5..=10 {
            p.update(step, &[("reward", 0.5), ("acc", 0.25), ("kl", 1e-4)]);
        }
        assert_eq!(p.bar.position(), 10);
        p.finish("done: reward 0.5");
    }
}
