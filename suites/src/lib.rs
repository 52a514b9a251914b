//! Deterministic synthetic task suites: `ui` (click), `spatial` (refer, with depth) and
//! `shapes` (detect / classify / count).
//!
//! Nothing can be downloaded where reticle trains, so these suites are how every capability
//! is trained and tested. Each sample is rendered from a ChaCha RNG seeded by
//! `(kind, seed, index)` only, so generation runs in parallel and the output is
//! byte-identical whatever the thread count. [`generate`] writes the dataset record format
//! of [`reticle_models::dataset`]: `OUT/data.jsonl`, `OUT/images/*.png` and, for `spatial`,
//! `OUT/depth/*.png` and `OUT/masks/*.png`. [`sample`] renders one sample in memory.
//!
//! All targets are in original image pixels. Pixel `(u, v)` covers `[u, u+1) × [v, v+1)`;
//! its centre is `(u + 0.5, v + 0.5)` (see `spatial` for the camera convention).

mod canvas;
pub mod error;
pub mod font;
mod png;
mod shapes;
mod spatial;
mod ui;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::error::{Error, Result};
use reticle_models::dataset::{self, Record, Target};
use reticle_models::geometry::Mask;

pub use reticle_models::imageio::Depth16;
pub use shapes::ShapesConfig;
pub use spatial::SpatialConfig;
pub use ui::UiConfig;

/// Which suite to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteKind {
    /// Desktop screens; task `click`, target `box`.
    Ui,
    /// Ray-cast tabletop scenes with depth; task `refer`, target `mask`.
    Spatial,
    /// 2-D shapes; tasks `detect`, `classify`, `count`.
    Shapes,
}

impl SuiteKind {
    pub const ALL: [SuiteKind; 3] = [SuiteKind::Ui, SuiteKind::Spatial, SuiteKind::Shapes];

    pub fn as_str(&self) -> &'static str {
        match self {
            SuiteKind::Ui => "ui",
            SuiteKind::Spatial => "spatial",
            SuiteKind::Shapes => "shapes",
        }
    }

    /// A constant mixed into every sample's RNG seed so suites sharing a seed differ.
    fn tag(&self) -> u64 {
        match self {
            SuiteKind::Ui => 0x75_69,
            SuiteKind::Spatial => 0x73_70_61_74,
            SuiteKind::Shapes => 0x73_68_61_70,
        }
    }
}

impl fmt::Display for SuiteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SuiteKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        SuiteKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::invalid(
                    "suite",
                    format!("unknown suite `{s}` (expected ui, spatial or shapes)"),
                )
            })
    }
}

/// What to generate. The per-suite knobs have defaults; only the one of `kind` is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteConfig {
    pub kind: SuiteKind,
    /// Number of samples.
    pub n: usize,
    pub seed: u64,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub spatial: SpatialConfig,
    #[serde(default)]
    pub shapes: ShapesConfig,
}

impl SuiteConfig {
    /// A config with default knobs.
    pub fn new(kind: SuiteKind, n: usize, seed: u64) -> Self {
        Self {
            kind,
            n,
            seed,
            ui: UiConfig::default(),
            spatial: SpatialConfig::default(),
            shapes: ShapesConfig::default(),
        }
    }

    /// Checks the knobs of the selected suite.
    pub fn validate(&self) -> Result<()> {
        match self.kind {
            SuiteKind::Ui => self.ui.validate(),
            SuiteKind::Spatial => self.spatial.validate(),
            SuiteKind::Shapes => self.shapes.validate(),
        }
    }
}

/// One rendered sample. Record paths are relative (`images/<id>.png`, `depth/<id>.png`,
/// `masks/<id>.png`), as they will be in `data.jsonl`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub image: RgbImage,
    /// Camera-frame z in millimetres (spatial only); 0 = no surface.
    pub depth: Option<Depth16>,
    /// The target mask (spatial only).
    pub mask: Option<Mask>,
    pub record: Record,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateSummary {
    pub kind: SuiteKind,
    pub n: usize,
    /// Wall-clock seconds, rendering and writing included.
    pub seconds: f64,
    /// The `data.jsonl` written.
    pub jsonl: PathBuf,
    /// Records per task (`click`, `refer`, `detect`, …).
    pub tasks: BTreeMap<String, usize>,
    /// Records per sub-kind: the ui element kind, the spatial expression type, the shapes question.
    pub kinds: BTreeMap<String, usize>,
}

/// The RNG of sample `index`: a function of `(kind, seed, index)` only.
fn sample_rng(kind: SuiteKind, seed: u64, index: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    key[16..24].copy_from_slice(&kind.tag().to_le_bytes());
    key[24..].copy_from_slice(b"reticle\0");
    ChaCha8Rng::from_seed(key)
}

fn sample_id(kind: SuiteKind, index: usize) -> String {
    format!("{kind}-{index:06}")
}

/// Renders sample `index` of suite `kind` with default knobs, in memory.
pub fn sample(kind: SuiteKind, seed: u64, index: usize) -> Result<Sample> {
    sample_with(&SuiteConfig::new(kind, index + 1, seed), index)
}

/// Renders sample `index` of `cfg`, in memory.
pub fn sample_with(cfg: &SuiteConfig, index: usize) -> Result<Sample> {
    let mut rng = sample_rng(cfg.kind, cfg.seed, index);
    let id = sample_id(cfg.kind, index);
    match cfg.kind {
        SuiteKind::Ui => ui::render(&cfg.ui, &mut rng, id),
        SuiteKind::Spatial => spatial::render(&cfg.spatial, &mut rng, id),
        SuiteKind::Shapes => shapes::render(&cfg.shapes, &mut rng, id),
    }
}

/// The sub-kind a record is counted under in [`GenerateSummary::kinds`].
fn sub_kind(rec: &Record) -> String {
    let meta = rec.meta.as_ref();
    ["element", "expression", "question"]
        .iter()
        .find_map(|k| meta.and_then(|m| m.get(*k)).and_then(|v| v.as_str()))
        .unwrap_or("other")
        .to_string()
}

/// Writes one sample's files under `out`.
fn write_sample(out: &Path, s: &Sample) -> Result<()> {
    png::write_rgb(&out.join(&s.record.image), &s.image)?;
    if let (Some(d), Some(rel)) = (&s.depth, &s.record.depth) {
        png::write_depth(&out.join(rel), d)?;
    }
    if let (Some(m), Target::Mask(rel)) = (&s.mask, &s.record.target) {
        let (w, h) = (m.width(), m.height());
        let mut data = Vec::with_capacity(w as usize * h as usize);
        for y in 0..h {
            for x in 0..w {
                data.push(if m.get(x, y) { 255 } else { 0 });
            }
        }
        png::write_gray(&out.join(rel), &data, w, h)?;
    }
    Ok(())
}

/// Generates `cfg.n` samples into `out` in parallel: images first, then `data.jsonl`
/// atomically. `progress` is called with the number of samples finished so far.
pub fn generate(
    cfg: &SuiteConfig,
    out: &Path,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<GenerateSummary> {
    cfg.validate()?;
    let start = Instant::now();
    let span = tracing::info_span!("suite_generate", suite = %cfg.kind, n = cfg.n, seed = cfg.seed);
    let _guard = span.enter();
    let mut dirs = vec!["images"];
    if cfg.kind == SuiteKind::Spatial {
        dirs.extend(["depth", "masks"]);
    }
    for d in dirs {
        let p = out.join(d);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let done = AtomicUsize::new(0);
    let records = (0..cfg.n)
        .into_par_iter()
        .map(|i| {
            let s = sample_with(cfg, i)?;
            write_sample(out, &s)?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            Ok(s.record)
        })
        .collect::<Result<Vec<Record>>>()?;
    let jsonl = out.join(dataset::DATA_FILE);
    dataset::write_jsonl(&jsonl, &records)?;
    let mut tasks = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    for r in &records {
        *tasks.entry(r.task.to_string()).or_insert(0) += 1;
        *kinds.entry(sub_kind(r)).or_insert(0) += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    tracing::info!(
        seconds,
        per_second = cfg.n as f64 / seconds.max(1e-9),
        "suite generated"
    );
    Ok(GenerateSummary {
        kind: cfg.kind,
        n: cfg.n,
        seconds,
        jsonl,
        tasks,
        kinds,
    })
}

/// Rounds a pixel coordinate for `cot` text.
fn ipx(v: f64) -> i64 {
    v.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.insert(
                        p.strip_prefix(dir).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    );
                }
            }
        }
        out
    }

    #[test]
    fn kind_parses_and_displays() {
        for k in SuiteKind::ALL {
            assert_eq!(k.to_string().parse::<SuiteKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert!("UI".parse::<SuiteKind>().is_ok());
        assert!("robots"
            .parse::<SuiteKind>()
            .unwrap_err()
            .to_string()
            .contains("robots"));
    }

    #[test]
    fn generation_is_deterministic_across_thread_counts() {
        for kind in SuiteKind::ALL {
            let mut cfg = SuiteConfig::new(kind, 3, 11);
            cfg.ui.resolutions = vec![[640, 400]];
            cfg.ui.scales = vec![1.0];
            cfg.spatial.width = 160;
            cfg.spatial.height = 120;
            cfg.shapes.size = 160;
            let run = |threads: usize, seed: u64| {
                let dir = tempfile::tempdir().unwrap();
                let mut c = cfg.clone();
                c.seed = seed;
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let summary = pool.install(|| generate(&c, dir.path(), &|_| {})).unwrap();
                assert_eq!(summary.n, 3);
                assert_eq!(summary.tasks.values().sum::<usize>(), 3);
                let back = dataset::read_dataset(dir.path()).unwrap();
                assert_eq!(back.len(), 3);
                assert!(back.iter().all(|r| r.image.exists()));
                tree_bytes(dir.path())
            };
            let a = run(1, 11);
            assert_eq!(a, run(3, 11), "{kind}: thread count changed the output");
            assert_ne!(a, run(2, 12), "{kind}: seed did not change the output");
        }
    }

    #[test]
    fn sample_matches_generate() {
        let s = sample(SuiteKind::Shapes, 5, 2).unwrap();
        assert_eq!(s.record.id, "shapes-000002");
        let t = sample(SuiteKind::Shapes, 5, 2).unwrap();
        assert_eq!(s.image, t.image);
        assert_eq!(s.record, t.record);
    }
}
