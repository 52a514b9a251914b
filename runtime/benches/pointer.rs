//! Latency of a `pointer` package through [`Pipeline`] — the policy alone, end to end with
//! the package's text reader, and through a [`ScreenSession`] on an unchanged screen — against
//! a Python peer measured in the same run.
//!
//! `scripts/bench_pointer.sh` runs it; by hand:
//! `RETICLE_BENCH_PACKAGE=PKG cargo bench -p reticle-runtime --bench pointer`.
//!
//! Environment:
//! - `RETICLE_BENCH_PACKAGE`: a package with `"architecture": "pointer"` (default
//!   `models/default`; a relative path is tried from the current folder, then from the
//!   workspace root);
//! - `RETICLE_BENCH_PROVIDER`: `cpu` (default), `cuda`, `cuda:N`;
//! - `RETICLE_BENCH_ITERS` (default 30), `RETICLE_BENCH_WARMUP` (default 3);
//! - `RETICLE_BENCH_THREADS`: intra-op threads for both sides and the text reader (default:
//!   ONNX Runtime's);
//! - `RETICLE_BENCH_PEER=0` skips the peer; `RETICLE_TOOLS_VENV` finds its Python.
//!
//! Cases: a 1280×800 `ui` screen (the first of seed 1 at that size) — the policy alone with
//! spans read once beforehand ([`Pipeline::ground_with_spans`]), end to end with a cold read
//! each time ([`Pipeline::ground`]), and a [`ScreenSession`] on the unchanged screen (the
//! incremental reader finds nothing to re-read) — and a 640×480 `spatial` tabletop (the
//! first of seed 1), end to end (the package's text reader runs on it too) and the policy
//! alone without spans. Each case grounds the sample's own instruction; depth is passed only
//! to an RGB-D package.
//!
//! The policy's time is split with [`Grounding::timings`]: `preprocess` (resize and
//! normalisation), `encode` (building the input tensors, the ONNX Runtime run and copying
//! the outputs: "ort run" below), `decode` (softmax, choice, top candidates, click point:
//! "postprocess"). The candidates' inputs — the element proposals on the frame when the
//! package keeps them, then [`pointer::text_inputs`] — are built before those timings start,
//! so the bench times them on its own ("text inputs") with the same arguments.
//!
//! The peer, `runtime/benches/peer_pointer.py`, runs the same `pointer.onnx` the way people
//! prototype: Pillow resize (stretch) and numpy normalisation, `session.run`, softmax and
//! argmax in numpy. It is handed the text inputs built here (a JSON file), so both sides
//! feed the graph the same text; it returns the candidate it chose, which the bench checks
//! against the runtime's. The peer runs the policy-only cases (its figures leave out building
//! the text inputs, which it is given; ours include it); the end-to-end cases have no peer
//! here (`scripts/bench_ocr.sh` compares the text reader with its own).
//!
//! Speed targets are printed, never asserted: the `ui` policy alone ≤ 50 ms p50, the
//! `spatial` frame end to end as `reticle robot` grounds it (no text reader) ≤ 30 ms p50.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use image::DynamicImage;
use reticle_models::grammar::Value;
use reticle_models::manifest::{Architecture, Channels, Manifest};
use reticle_models::pointer::{self, PointerSpec, TextInputs};
use reticle_models::preprocess::DepthRef;
use reticle_models::text::TextSpan;
use reticle_runtime::{Frame, GroundOptions, Grounding, LoadOptions, Pipeline, Provider};
use reticle_suites::{self as suites, Sample, SuiteKind};

const UI_SIZE: (u32, u32) = (1280, 800);
const SPATIAL_SIZE: (u32, u32) = (640, 480);
const SEED: u64 = 1;
/// Target: the `ui` policy alone, p50.
const TARGET_UI_POLICY_MS: f64 = 50.0;
/// Target: the `spatial` frame end to end as `reticle robot` grounds it, p50.
const TARGET_SPATIAL_E2E_MS: f64 = 30.0;
/// Depth PNGs of the `spatial` suite are in millimetres.
const DEPTH_SCALE_M: f64 = 0.001;
/// How far (original pixels) the peer's click may be from ours and still be the same
/// candidate: neighbouring patches are at least a cell apart.
const SAME_POINT_PX: f64 = 0.5;

/// The bench's settings, read from the environment.
struct Config {
    package: PathBuf,
    provider: Provider,
    iters: usize,
    warmup: usize,
    threads: Option<usize>,
    peer: bool,
    python: PathBuf,
}

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// `path` as given if it exists from here, else from the workspace root (`cargo bench` runs
/// in `runtime/`).
fn resolve(path: PathBuf) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let from_root = root.join(&path);
    if from_root.exists() {
        from_root
    } else {
        path
    }
}

impl Config {
    fn from_env() -> Result<Self> {
        let package = std::env::var_os("RETICLE_BENCH_PACKAGE")
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from("models/default"), PathBuf::from);
        let provider = match std::env::var("RETICLE_BENCH_PROVIDER") {
            Ok(p) if !p.trim().is_empty() => p.parse().context("RETICLE_BENCH_PROVIDER")?,
            _ => Provider::Cpu,
        };
        ensure!(
            provider != Provider::Auto,
            "RETICLE_BENCH_PROVIDER=auto: name the provider (cpu, cuda or cuda:N) so the \
             figures say what they measure"
        );
        let iters = env_usize("RETICLE_BENCH_ITERS", 30)?;
        ensure!(iters > 0, "RETICLE_BENCH_ITERS must be at least 1");
        let threads = match std::env::var("RETICLE_BENCH_THREADS") {
            Ok(_) => Some(env_usize("RETICLE_BENCH_THREADS", 0)?).filter(|&n| n > 0),
            Err(_) => None,
        };
        let venv = std::env::var_os("RETICLE_TOOLS_VENV")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle/tools-venv"))
            })
            .unwrap_or_else(|| PathBuf::from(".cache/reticle/tools-venv"));
        Ok(Self {
            package: resolve(package),
            provider,
            iters,
            warmup: env_usize("RETICLE_BENCH_WARMUP", 3)?,
            threads,
            peer: std::env::var("RETICLE_BENCH_PEER").map_or(true, |v| v.trim() != "0"),
            python: venv.join("bin/python"),
        })
    }
}

/// p50 and p90 of one stage, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Quantiles {
    p50: f64,
    p90: f64,
}

/// Nearest-rank percentile (the peer uses the same rule).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn quantiles(samples: &[Duration]) -> Quantiles {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Quantiles {
        p50: percentile(&ms, 50.0),
        p90: percentile(&ms, 90.0),
    }
}

/// A rendered suite sample, written to `dir` as PNG for the peer.
struct Scene {
    image: DynamicImage,
    depth: Option<reticle_models::imageio::Depth16>,
    instruction: String,
    png: PathBuf,
}

impl Scene {
    fn new(sample: Sample, dir: &Path, name: &str) -> Result<Self> {
        let png = dir.join(format!("{name}.png"));
        sample
            .image
            .save(&png)
            .with_context(|| format!("cannot write {}", png.display()))?;
        Ok(Self {
            image: DynamicImage::ImageRgb8(sample.image),
            depth: sample.depth,
            instruction: sample.record.instruction,
            png,
        })
    }

    /// The first sample of `kind` (seed [`SEED`]) of `size`.
    fn find(kind: SuiteKind, size: (u32, u32), dir: &Path, name: &str) -> Result<Self> {
        for index in 0..64 {
            let sample = suites::sample(kind, SEED, index)?;
            if sample.image.dimensions() == size {
                return Self::new(sample, dir, name);
            }
        }
        bail!(
            "no {}x{} sample among the first 64 {kind:?} samples of seed {SEED}",
            size.0,
            size.1
        )
    }

    /// The frame for a package: depth only when it reads depth.
    fn frame(&self, rgbd: bool) -> Result<Frame<'_>> {
        let depth = match (&self.depth, rgbd) {
            (Some(d), true) => Some(DepthRef::new(
                d.width(),
                d.height(),
                d.as_raw(),
                DEPTH_SCALE_M,
            )?),
            (None, true) => bail!("the package reads depth and this sample has none"),
            (_, false) => None,
        };
        Ok(Frame {
            image: (&self.image).into(),
            depth,
        })
    }
}

/// Wall time and stage timings of the measured calls of one case.
#[derive(Default)]
struct Run {
    total: Vec<Duration>,
    perceive: Vec<Duration>,
    preprocess: Vec<Duration>,
    run: Vec<Duration>,
    postprocess: Vec<Duration>,
    /// The last grounding (every call must answer alike).
    last: Option<Grounding>,
}

impl Run {
    /// The policy's share of each call: the wall time less the perception stage.
    fn policy(&self) -> Vec<Duration> {
        self.total
            .iter()
            .zip(&self.perceive)
            .map(|(t, p)| t.saturating_sub(*p))
            .collect()
    }
}

/// Calls `f` `warmup + iters` times and keeps the timings of the last `iters`.
fn measure(cfg: &Config, mut f: impl FnMut() -> Result<Grounding>) -> Result<Run> {
    let mut run = Run::default();
    for i in 0..cfg.warmup + cfg.iters {
        let t = Instant::now();
        let out = f()?;
        let total = t.elapsed();
        if let Some(prev) = &run.last {
            ensure!(
                prev.text == out.text,
                "greedy grounding is not repeatable: {:?}, then {:?}",
                prev.text,
                out.text
            );
        }
        if i >= cfg.warmup {
            let tm = out.timings;
            run.total.push(total);
            run.perceive.push(tm.perceive);
            run.preprocess.push(tm.preprocess);
            run.run.push(tm.encode);
            run.postprocess.push(tm.decode);
        }
        run.last = Some(out);
    }
    Ok(run)
}

/// The candidates' inputs of `scene` as the policy builds them ([`pointer::frame_inputs`]:
/// element proposals on an RGB copy of the frame when the package keeps them, then the text
/// inputs).
fn build_text_inputs(spec: &PointerSpec, scene: &Scene, spans: &[TextSpan]) -> TextInputs {
    let size = (scene.image.width(), scene.image.height());
    let components = || {
        Ok::<_, std::convert::Infallible>(reticle_models::elements::Components::find(
            &scene.image.to_rgb8(),
        ))
    };
    match pointer::frame_inputs(&scene.instruction, spans, size, &spec.text, components) {
        Ok(t) => t,
        Err(never) => match never {},
    }
}

/// Times [`build_text_inputs`].
fn time_text_inputs(
    cfg: &Config,
    spec: &PointerSpec,
    scene: &Scene,
    spans: &[TextSpan],
) -> Vec<Duration> {
    (0..cfg.iters)
        .map(|_| {
            let t = Instant::now();
            black_box(build_text_inputs(spec, black_box(scene), black_box(spans)));
            t.elapsed()
        })
        .collect()
}

/// The one point a grounding answered.
fn answer_point(g: &Grounding) -> Option<reticle_models::geometry::Point> {
    match &g.answer {
        Ok(Value::Points(p)) if p.len() == 1 => Some(p[0]),
        _ => None,
    }
}

/// One row of the table: a stage of a case, ours and (where the peer ran it) the peer's.
struct Row {
    case: String,
    stage: &'static str,
    ours: Quantiles,
    peer: Option<Quantiles>,
}

/// A policy-only case the peer runs too.
struct PeerCase<'a> {
    name: &'static str,
    scene: &'a Scene,
    text: TextInputs,
    ours: &'a Grounding,
}

/// The peer's report (see `peer_pointer.py`).
#[derive(Debug, serde::Deserialize)]
struct PeerReport {
    cases: BTreeMap<String, PeerCaseReport>,
    versions: BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
struct PeerCaseReport {
    stages: BTreeMap<String, PeerStage>,
    /// The candidate chosen: `0..P` a patch, `P..P+S` a text slot.
    index: usize,
    probability: f32,
    /// The chosen patch's offset (cells), absent for a text candidate.
    offset: Option<[f32; 2]>,
    /// The click as fractions of the image when it is a region's weighted centre (the
    /// greedy rule over several patches); absent when the click is `index`'s own.
    #[serde(default)]
    point: Option<[f64; 2]>,
}

#[derive(Debug, serde::Deserialize)]
struct PeerStage {
    p50_ms: f64,
    p90_ms: f64,
}

/// Runs the peer script on `cases` and parses its JSON.
fn run_peer(cfg: &Config, dir: &Path, cases: &[PeerCase<'_>]) -> Result<PeerReport> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_pointer.py");
    ensure!(
        cfg.python.is_file(),
        "{} is missing: run `scripts/setup.sh all` (the tools venv has onnxruntime, numpy and \
         pillow), or set RETICLE_BENCH_PEER=0 to skip the peer",
        cfg.python.display()
    );
    let cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let t = &c.text;
            serde_json::json!({
                "name": c.name,
                "image": c.scene.png,
                "text": {
                    "instr_ids": t.instr_ids,
                    "instr_mask": t.instr_mask,
                    "span_ids": t.span_ids,
                    "span_mask": t.span_mask,
                    "span_boxes": t.span_boxes,
                    "span_feats": t.span_feats,
                    "span_valid": t.span_valid,
                },
            })
        })
        .collect();
    let args = serde_json::json!({
        "package": cfg.package,
        "iters": cfg.iters,
        "warmup": cfg.warmup,
        "threads": cfg.threads,
        "provider": cfg.provider.to_string(),
        "cases": cases,
    });
    let path = dir.join("peer_pointer.json");
    std::fs::write(&path, args.to_string())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let out = Command::new(&cfg.python)
        .arg(&script)
        .arg(&path)
        .output()
        .with_context(|| format!("cannot run {}", cfg.python.display()))?;
    ensure!(
        out.status.success(),
        "{} failed ({}): {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} printed no report: {}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Says whether the peer, applying the same greedy region rule in numpy, clicks where we do
/// (from its own offset, or its region's weighted centre).
fn agreement(
    m: &Manifest,
    spec: &PointerSpec,
    case: &PeerCase<'_>,
    peer: &PeerCaseReport,
) -> String {
    let p = &m.preprocess;
    let grid = spec.grid(p.width, p.height);
    let n_patches = grid.0 * grid.1;
    let original = (case.scene.image.width(), case.scene.image.height());
    let what = if peer.index >= n_patches {
        match case.text.candidates.get(peer.index - n_patches) {
            Some(c) => format!("text {:?}", c.text),
            None => format!("padding slot {}", peer.index - n_patches),
        }
    } else {
        format!(
            "patch {} (col {}, row {})",
            peer.index,
            peer.index % grid.0,
            peer.index / grid.0
        )
    };
    let mut offsets = vec![0.0; n_patches * 2];
    if let (Some([dx, dy]), true) = (peer.offset, peer.index < n_patches) {
        offsets[peer.index * 2] = dx;
        offsets[peer.index * 2 + 1] = dy;
    }
    let theirs = match peer.point {
        Some([fx, fy]) => Some(reticle_models::geometry::Point::new(
            fx * f64::from(original.0),
            fy * f64::from(original.1),
        )),
        None => pointer::click_point(
            peer.index,
            &offsets,
            grid,
            spec.cell,
            (p.width, p.height),
            original,
            &case.text.candidates,
        ),
    };
    let ours = answer_point(case.ours);
    let our_p = case.ours.confidence.unwrap_or(f32::NAN);
    match (ours, theirs) {
        (Some(a), Some(b)) if (a.x - b.x).hypot(a.y - b.y) <= SAME_POINT_PX => format!(
            "same candidate: {what}, probability {our_p:.4} (ours) vs {:.4} (peer)",
            peer.probability
        ),
        _ => format!(
            "NO — ours clicks {ours:?} (probability {our_p:.4}), the peer chose {what} at \
             {theirs:?} (probability {:.4})",
            peer.probability
        ),
    }
}

fn run() -> Result<()> {
    let cfg = Config::from_env()?;
    let manifest = Manifest::load(&cfg.package)
        .with_context(|| format!("cannot read the manifest of {}", cfg.package.display()))?;
    ensure!(
        manifest.architecture == Architecture::Pointer,
        "{} is a `{}` package; this bench needs `\"architecture\": \"pointer\"` (set \
         RETICLE_BENCH_PACKAGE to a pointer package; `cargo bench --bench ground` measures \
         ReticleVLM packages)",
        cfg.package.display(),
        manifest.architecture
    );
    let spec = manifest.pointer_spec()?.clone();
    let rgbd = manifest.preprocess.channels == Channels::Rgbd;

    let tmp = tempfile::tempdir()?;
    let ui = Scene::find(SuiteKind::Ui, UI_SIZE, tmp.path(), "ui")?;
    let spatial = Scene::find(SuiteKind::Spatial, SPATIAL_SIZE, tmp.path(), "spatial")?;

    let load = LoadOptions {
        provider: cfg.provider,
        workers: 1,
        intra_threads: cfg.threads,
    };
    let t = Instant::now();
    let pipeline = Pipeline::load_with(&cfg.package, &load)
        .with_context(|| format!("cannot load {}", cfg.package.display()))?;
    let load_time = t.elapsed();
    let p = &manifest.preprocess;
    let (cols, rows) = spec.grid(p.width, p.height);
    println!(
        "reticle-runtime pointer bench: {} ({}; {}×{} {} input, {cols}×{rows} patches, up to {} \
         text candidates, text reader: {})",
        cfg.package.display(),
        manifest.description,
        p.width,
        p.height,
        if rgbd { "RGB-D" } else { "RGB" },
        spec.text.max_candidates,
        if pipeline.reader().is_some() {
            "the package's"
        } else {
            "none"
        }
    );
    println!(
        "provider {}, intra-op threads {}, greedy, {} iterations after {} warm-up, loaded in \
         {:.0} ms",
        pipeline.provider(),
        cfg.threads
            .map_or_else(|| "ONNX Runtime default".to_string(), |n| n.to_string()),
        cfg.iters,
        cfg.warmup,
        load_time.as_secs_f64() * 1e3
    );

    let greedy = GroundOptions::greedy();
    let ui_frame = ui.frame(rgbd)?;
    let sp_frame = spatial.frame(rgbd)?;

    // The ui screen's spans, read once (the package's reader; none without one); the
    // spatial frame's are counted only, to say what its end-to-end reading finds.
    let (ui_spans, n_spatial_spans) = match pipeline.reader() {
        Some(r) => (
            r.read(&ui.image)?.spans,
            r.read(&spatial.image)?.spans.len(),
        ),
        None => (Vec::new(), 0),
    };
    let ui_text = build_text_inputs(&spec, &ui, &ui_spans);
    let sp_text = build_text_inputs(&spec, &spatial, &[]);
    println!(
        "ui {}×{}: {:?}, {} spans read → {} text candidates; spatial {}×{}: {:?}, {} spans \
         read",
        ui.image.width(),
        ui.image.height(),
        ui.instruction,
        ui_spans.len(),
        ui_text.candidates.len(),
        spatial.image.width(),
        spatial.image.height(),
        spatial.instruction,
        n_spatial_spans
    );

    let ui_policy = measure(&cfg, || {
        Ok(pipeline.ground_with_spans(ui_frame, &ui.instruction, &ui_spans, &greedy)?)
    })?;
    let ui_policy_text = time_text_inputs(&cfg, &spec, &ui, &ui_spans);
    let ui_e2e = measure(&cfg, || {
        Ok(pipeline.ground(ui_frame, &ui.instruction, &greedy)?)
    })?;
    let mut session = pipeline.screen_session();
    // The session's first call reads the whole screen; every later one finds it unchanged.
    session.ground(ui_frame, &ui.instruction, &greedy)?;
    let ui_session = measure(&cfg, || {
        Ok(session.ground(ui_frame, &ui.instruction, &greedy)?)
    })?;
    let sp_e2e = measure(&cfg, || {
        Ok(pipeline.ground(sp_frame, &spatial.instruction, &greedy)?)
    })?;
    let sp_policy = measure(&cfg, || {
        Ok(pipeline.ground_with_spans(sp_frame, &spatial.instruction, &[], &greedy)?)
    })?;
    let sp_policy_text = time_text_inputs(&cfg, &spec, &spatial, &[]);

    let peer_cases = [
        PeerCase {
            name: "ui policy",
            scene: &ui,
            text: ui_text,
            ours: ui_policy.last.as_ref().context("no ui policy call ran")?,
        },
        PeerCase {
            name: "spatial policy",
            scene: &spatial,
            text: sp_text,
            ours: sp_policy
                .last
                .as_ref()
                .context("no spatial policy call ran")?,
        },
    ];
    let peer = if cfg.peer {
        println!(
            "running the peer ({} runtime/benches/peer_pointer.py) on the same pointer.onnx …",
            cfg.python.display()
        );
        match run_peer(&cfg, tmp.path(), &peer_cases) {
            Ok(report) => Some(report),
            Err(e) => {
                println!("peer unavailable, no ratios: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let peer_stage = |case: &str, stage: &str| {
        let s = peer.as_ref()?.cases.get(case)?.stages.get(stage)?;
        Some(Quantiles {
            p50: s.p50_ms,
            p90: s.p90_ms,
        })
    };

    let ui_name = format!("ui {}×{}", UI_SIZE.0, UI_SIZE.1);
    let sp_name = format!("spatial {}×{}", SPATIAL_SIZE.0, SPATIAL_SIZE.1);
    let mut rows = Vec::new();
    let mut policy_rows = |case: String, peer_case: &str, run: &Run, text: &[Duration]| {
        for (stage, key, samples) in [
            ("text inputs", None, text),
            ("preprocess", Some("preprocess"), &run.preprocess[..]),
            ("ort run", Some("run"), &run.run[..]),
            ("postprocess", Some("postprocess"), &run.postprocess[..]),
            ("total", Some("total"), &run.total[..]),
        ] {
            rows.push(Row {
                case: case.clone(),
                stage,
                ours: quantiles(samples),
                peer: key.and_then(|k| peer_stage(peer_case, k)),
            });
        }
    };
    policy_rows(
        format!("{ui_name} policy only"),
        "ui policy",
        &ui_policy,
        &ui_policy_text,
    );
    policy_rows(
        format!("{sp_name} policy only (no spans)"),
        "spatial policy",
        &sp_policy,
        &sp_policy_text,
    );
    for (case, run) in [
        (format!("{ui_name} end to end (cold read)"), &ui_e2e),
        (format!("{ui_name} screen session, unchanged"), &ui_session),
        (format!("{sp_name} end to end"), &sp_e2e),
    ] {
        for (stage, samples) in [
            ("perceive (ocr)", run.perceive.clone()),
            ("policy", run.policy()),
            ("total", run.total.clone()),
        ] {
            rows.push(Row {
                case: case.clone(),
                stage,
                ours: quantiles(&samples),
                peer: None,
            });
        }
    }

    println!();
    println!(
        "{:<40} {:<15} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "case", "stage (ms)", "ours p50", "ours p90", "peer p50", "peer p90", "ours/peer"
    );
    let mut last_case = String::new();
    for r in &rows {
        let case = if r.case == last_case { "" } else { &r.case };
        let cell = |v: Option<f64>, suffix: &str| {
            v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}{suffix}"))
        };
        println!(
            "{case:<40} {:<15} {:>9.2} {:>9.2} {:>9} {:>9} {:>10}",
            r.stage,
            r.ours.p50,
            r.ours.p90,
            cell(r.peer.map(|q| q.p50), ""),
            cell(r.peer.map(|q| q.p90), ""),
            cell(r.peer.map(|q| r.ours.p50 / q.p50), "×"),
        );
        last_case.clone_from(&r.case);
    }
    println!(
        "(ours/peer = p50 ratio, below 1 means reticle-runtime is faster; the peer is handed \
         the text inputs, so its totals leave out what our `text inputs` row costs)"
    );
    if let Some(peer) = &peer {
        let versions: Vec<String> = peer
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!("peer: {}", versions.join(", "));
        for case in &peer_cases {
            match peer.cases.get(case.name) {
                Some(report) => println!(
                    "agreement ({}): {}",
                    case.name,
                    agreement(&manifest, &spec, case, report)
                ),
                None => println!("agreement ({}): the peer reported no choice", case.name),
            }
        }
    }

    println!();
    for (name, p50, target) in [
        (
            format!("{ui_name} policy only"),
            quantiles(&ui_policy.total).p50,
            TARGET_UI_POLICY_MS,
        ),
        // `reticle robot` grounds tabletop frames without the text reader (the spatial suite
        // has no text): frame → preprocess → pointer.onnx → select, the "policy only" case;
        // the deprojection after it takes microseconds. The row with the reader is above.
        (
            format!("{sp_name} end to end as `reticle robot` (no text reader)"),
            quantiles(&sp_policy.total).p50,
            TARGET_SPATIAL_E2E_MS,
        ),
    ] {
        let verdict = if p50 <= target { "met" } else { "NOT MET" };
        println!("target {name} ≤ {target:.0} ms p50: {p50:.2} ms — {verdict}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
