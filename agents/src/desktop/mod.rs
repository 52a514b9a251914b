//! The desktop agent: capture a monitor, ground an instruction, map the answer to the
//! desktop's coordinates, check it, act, and record the step.
//!
//! - [`monitor`]: xcap monitors, the choice of one (`--monitor N` or the one under the
//!   pointer) and screenshots;
//! - [`mapping`]: screenshot pixels → logical → input coordinates (pure);
//! - [`safety`]: refusals (off the monitor, unparseable, `--max-actions`, corner failsafe);
//! - [`act`]: enigo actions behind the [`act::Input`] trait;
//! - [`plan`]: scripted mode; [`record`]: `--record DIR` as dataset records.
//!
//! [`Agent::step`] runs one step; [`Agent::run_plan`] runs a plan, re-capturing between
//! steps and waiting for the screen to change.

pub mod act;
pub mod error;
pub mod mapping;
pub mod monitor;
pub mod plan;
pub mod record;
pub mod safety;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbaImage;
use reticle_models::geometry::Point;
use reticle_models::grammar::Value;
use reticle_models::preprocess::{PixelFormat, PixelsRef};
use reticle_runtime::{DecodeOptions, Frame, GroundOptions, ImageInput, Pipeline, ScreenSession};
use serde::Serialize;

use self::act::{Action, Input};
pub use self::error::{Error, Result};
use self::mapping::Mapped;
use self::monitor::MonitorInfo;
use self::plan::{Plan, Step};
use self::record::{Recorder, StepRecord};
use self::safety::{Refusal, Safety, SafetyConfig};

/// How the agent runs (built from the command line).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// `--monitor N`; `None`: the monitor under the pointer.
    pub monitor: Option<usize>,
    pub safety: SafetyConfig,
    /// Act on nothing; write the screenshot with the target drawn on it instead.
    pub dry_run: bool,
    /// Where dry-run images go: a file for one step, or `<stem>-<step>.png` beside it for
    /// plans.
    pub dry_run_image: PathBuf,
    /// Ask y/N on the terminal before every action.
    pub confirm: bool,
    /// `--record DIR`.
    pub record: Option<PathBuf>,
    pub decode: DecodeOptions,
    /// How often to re-capture while waiting for the screen to change.
    pub poll: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            monitor: None,
            safety: SafetyConfig::default(),
            dry_run: false,
            dry_run_image: PathBuf::from("reticle-dry-run.png"),
            confirm: false,
            record: None,
            decode: DecodeOptions::greedy(),
            poll: Duration::from_millis(100),
        }
    }
}

/// What happened in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action (and typing) was performed.
    Acted,
    /// `--dry-run`: the target was drawn, nothing was done.
    DryRun,
    /// A safety check refused the step; see `refusal`.
    Refused,
}

/// Milliseconds spent in each phase of a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StepTimings {
    pub capture_ms: f64,
    pub ground_ms: f64,
    pub act_ms: f64,
}

/// The report of one step (printed as a JSON line by `reticle desktop`).
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: usize,
    pub instruction: String,
    pub action: Action,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_text: Option<String>,
    pub monitor: MonitorInfo,
    pub image_size: (u32, u32),
    /// The model's raw output.
    pub raw: String,
    /// The policy's confidence in its answer (pointer packages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The answer's point in screenshot pixels.
    pub point: Option<Point>,
    /// Where it maps to (logical and input coordinates), when the checks passed.
    pub target: Option<Mapped>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotated: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    pub timings: StepTimings,
}

/// The agent: the grounding pipeline (as a screen session: successive captures are read
/// incrementally), an input backend, the safety state and an optional recorder.
pub struct Agent<'a> {
    grounder: ScreenSession<'a>,
    input: Box<dyn Input + 'a>,
    safety: Safety,
    recorder: Option<Recorder>,
    config: AgentConfig,
    monitors: Vec<MonitorInfo>,
}

impl std::fmt::Debug for Agent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.grounder.pipeline().dir())
            .field("safety", &self.safety)
            .field("recorder", &self.recorder)
            .field("config", &self.config)
            .field("monitors", &self.monitors)
            .finish_non_exhaustive()
    }
}

fn millis_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

impl<'a> Agent<'a> {
    /// Lists the monitors (the failsafe watches all their corners) and opens the recorder.
    pub fn new(
        grounder: &'a Pipeline,
        input: Box<dyn Input + 'a>,
        config: AgentConfig,
    ) -> Result<Self> {
        let monitors = monitor::list()?;
        let rects: Vec<_> = monitors.iter().map(MonitorInfo::input_rect).collect();
        let safety = Safety::new(config.safety, &rects);
        let recorder = match &config.record {
            Some(dir) => Some(Recorder::open(dir)?),
            None => None,
        };
        tracing::info!(
            monitors = monitors.len(),
            dry_run = config.dry_run,
            max_actions = config.safety.max_actions,
            "desktop agent ready"
        );
        Ok(Self {
            grounder: grounder.screen_session(),
            input,
            safety,
            recorder,
            config,
            monitors,
        })
    }

    /// Aborts when the pointer is in a corner.
    fn failsafe(&mut self) -> Result<(i32, i32)> {
        let pointer = self.input.location()?;
        self.safety.check_failsafe(pointer).map_err(|r| {
            tracing::warn!(
                x = pointer.0,
                y = pointer.1,
                "failsafe: pointer in a corner"
            );
            Error::Refused(r)
        })?;
        Ok(pointer)
    }

    /// Runs one step. A refusal is reported in the [`StepReport`] (and recorded), not as an
    /// error; only failures of capture, grounding, input or files are errors.
    pub fn step(&mut self, idx: usize, step: &Step) -> Result<(StepReport, RgbaImage)> {
        let pointer = self.failsafe()?;
        let mon = monitor::choose(&self.monitors, self.config.monitor, Some(pointer))?;
        let t = Instant::now();
        let image = monitor::capture(&mon)?;
        let capture_ms = millis_since(t);
        let size = (image.width(), image.height());
        tracing::info!(
            step = idx,
            monitor = %mon.name,
            width = size.0,
            height = size.1,
            instruction = %step.instruction,
            "captured"
        );

        let t = Instant::now();
        let pixels = PixelsRef::new(size.0, size.1, PixelFormat::Rgba8, image.as_raw())?;
        let grounding = self.grounder.ground(
            Frame::rgb(ImageInput::Pixels(pixels)),
            &step.instruction,
            &GroundOptions {
                decode: self.config.decode.clone(),
                spans: false,
            },
        )?;
        let ground_ms = millis_since(t);

        let map = mon.screen_map(size);
        let point = grounding.answer.as_ref().ok().and_then(Value::first_point);
        let mut report = StepReport {
            step: idx,
            instruction: step.instruction.clone(),
            action: step.action,
            type_text: step.type_text.clone(),
            monitor: mon.clone(),
            image_size: size,
            raw: grounding.text.clone(),
            confidence: grounding.confidence,
            point,
            target: None,
            outcome: Outcome::Refused,
            refusal: None,
            annotated: None,
            record_id: None,
            timings: StepTimings {
                capture_ms,
                ground_ms,
                act_ms: 0.0,
            },
        };
        let checked = match (&grounding.answer, point) {
            (Err(e), _) => Err(Refusal::Unparseable {
                text: grounding.text.clone(),
                message: e.to_string(),
            }),
            (Ok(_), None) if grounding.names_nothing() => Err(Refusal::NamesNothing {
                probability: grounding
                    .nothing
                    .or(grounding.confidence)
                    .unwrap_or(f32::NAN),
                instruction: step.instruction.clone(),
                region: grounding.overruled.map(|o| o.confidence),
            }),
            (Ok(_), None) => Err(Refusal::NoPoint {
                text: grounding.text.clone(),
            }),
            (Ok(_), Some(p)) => self
                .safety
                .check_confidence(grounding.confidence, &step.instruction)
                .and_then(|()| self.safety.check_target(&map, &mon.name, p)),
        };
        match checked {
            Err(r) => report.refusal = Some(r),
            Ok(mapped) => {
                report.target = Some(mapped);
                if self.config.dry_run {
                    let path = self.dry_run_path(idx);
                    annotate(&image, mapped.image, &path)?;
                    report.annotated = Some(path);
                    report.outcome = Outcome::DryRun;
                } else {
                    match self.act(step, &mon, mapped) {
                        Ok(ms) => {
                            report.timings.act_ms = ms;
                            report.outcome = Outcome::Acted;
                        }
                        Err(Error::Refused(r)) => report.refusal = Some(r),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if let Some(r) = &report.refusal {
            tracing::warn!(step = idx, reason = r.kind(), "refused: {r}");
        }
        self.record(&mut report, &image)?;
        Ok((report, image))
    }

    fn dry_run_path(&self, idx: usize) -> PathBuf {
        let p = &self.config.dry_run_image;
        if idx == 0 {
            return p.clone();
        }
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "reticle-dry-run".into());
        p.with_file_name(format!("{stem}-{idx}.png"))
    }

    /// Confirms, reserves the actions, checks the failsafe once more and acts.
    fn act(&mut self, step: &Step, mon: &MonitorInfo, target: Mapped) -> Result<f64> {
        if self.config.confirm {
            let (x, y) = target.input;
            let typed = step
                .type_text
                .as_deref()
                .map(|t| format!(" then type {t:?}"))
                .unwrap_or_default();
            let question = format!(
                "{} at ({x}, {y}) on monitor {} for {:?}{typed}?",
                step.action, mon.name, step.instruction
            );
            if !confirm(&question)? {
                return Err(Error::Refused(Refusal::NotConfirmed));
            }
        }
        let n = 1 + usize::from(step.type_text.is_some());
        self.safety.reserve(n).map_err(Error::Refused)?;
        self.failsafe()?;
        let t = Instant::now();
        tracing::info!(
            action = step.action.as_str(),
            x = target.input.0,
            y = target.input.1,
            logical_x = target.logical.x,
            logical_y = target.logical.y,
            monitor = %mon.name,
            instruction = %step.instruction,
            "acting"
        );
        self.input.act(step.action, target.input)?;
        if let Some(text) = &step.type_text {
            self.input.type_text(text)?;
        }
        Ok(millis_since(t))
    }

    fn record(&mut self, report: &mut StepReport, image: &RgbaImage) -> Result<()> {
        let Some(rec) = &mut self.recorder else {
            return Ok(());
        };
        let meta = serde_json::json!({
            "source": "reticle desktop",
            "label": "predicted",
            "model": self.grounder.pipeline().dir(),
            "raw_output": report.raw,
            "point": report.point.map(|p| [p.x, p.y]),
            "action": report.action,
            "type": report.type_text,
            "outcome": report.outcome,
            "refusal": report.refusal.as_ref().map(Refusal::kind),
            "refusal_message": report.refusal.as_ref().map(ToString::to_string),
            "target": report.target,
            "monitor": report.monitor,
            "image_size": report.image_size,
            "dry_run": self.config.dry_run,
        });
        let id = rec.write(&StepRecord {
            step: report.step,
            image,
            instruction: &report.instruction,
            point: report.point.filter(|p| p.is_finite()),
            meta,
        })?;
        report.record_id = Some(id);
        Ok(())
    }

    /// Waits until a capture of `mon` differs from `before`, watching the failsafe;
    /// returns how long it took.
    pub fn wait_for_change(
        &mut self,
        mon: &MonitorInfo,
        before: &RgbaImage,
        timeout: Duration,
    ) -> Result<Duration> {
        let t = Instant::now();
        loop {
            self.failsafe()?;
            let now = monitor::capture(mon)?;
            if now.dimensions() != before.dimensions() || now.as_raw() != before.as_raw() {
                return Ok(t.elapsed());
            }
            if t.elapsed() >= timeout {
                return Err(Error::NoScreenChange {
                    waited_s: timeout.as_secs_f64(),
                });
            }
            std::thread::sleep(self.config.poll);
        }
    }

    /// Runs `plan` step by step, calling `on_step` with each report. Stops at the first
    /// refusal (returned as [`Error::Refused`]) or error.
    pub fn run_plan(
        &mut self,
        plan: &Plan,
        mut on_step: impl FnMut(&StepReport) -> Result<()>,
    ) -> Result<Vec<StepReport>> {
        let mut reports = Vec::new();
        for (idx, step) in plan.steps.iter().enumerate() {
            let (report, image) = self.step(idx, step)?;
            on_step(&report)?;
            if let Some(r) = &report.refusal {
                return Err(Error::Refused(r.clone()));
            }
            let last = idx + 1 == plan.steps.len();
            if step.wait && !last && report.outcome == Outcome::Acted {
                let waited = self.wait_for_change(&report.monitor, &image, plan.timeout)?;
                tracing::info!(
                    step = idx,
                    waited_ms = waited.as_millis() as u64,
                    "screen changed"
                );
            }
            reports.push(report);
        }
        Ok(reports)
    }

    pub fn recorder_dir(&self) -> Option<&Path> {
        self.recorder.as_ref().map(Recorder::dir)
    }
}

/// Asks `question` on the terminal; anything but y/yes is no. Refuses to ask when stdin is
/// not a terminal (a piped "y" must not approve clicks by accident).
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Confirm(
            "--confirm needs a terminal on stdin to ask y/N".into(),
        ));
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")
        .and_then(|()| err.flush())
        .map_err(|e| Error::Confirm(format!("writing the question: {e}")))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Confirm(format!("reading the answer: {e}")))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Writes `image` with a red crosshair and circle at `p` (image pixels) to `path` (PNG).
pub fn annotate(image: &RgbaImage, p: Point, path: &Path) -> Result<()> {
    use imageproc::drawing::{draw_cross_mut, draw_hollow_circle_mut};
    let mut canvas = image::DynamicImage::ImageRgba8(image.clone()).to_rgb8();
    let red = image::Rgb([255u8, 0, 0]);
    let r = (canvas.width().min(canvas.height()) / 40).max(4) as i32;
    let (x, y) = (p.x.round() as i32, p.y.round() as i32);
    draw_cross_mut(&mut canvas, red, x, y);
    for d in 0..2 {
        draw_hollow_circle_mut(&mut canvas, (x, y), r + d, red);
    }
    let mut bytes = Vec::new();
    canvas
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| Error::Record(format!("encoding {}: {e}", path.display())))?;
    reticle_models::fsutil::write_atomic(path, &bytes)?;
    tracing::info!(path = %path.display(), "dry run: annotated screenshot written");
    Ok(())
}
