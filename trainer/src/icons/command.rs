//! `reticle-train icons`: train the icon reader on a sheet folder, evaluate it on held-out
//! styles, export `icons.onnx`, and install the stage into pointer packages. Resumable: an
//! output folder that already holds `stage.json` is not trained again.

use std::path::{Path, PathBuf};

use tch::{nn, Device};

use super::export::{export_stage, ICONS_FILE};
use super::{evaluate, load_sheets, train, IconNet, IconTrainConfig};
use crate::error::{Error, Result};
use reticle_models::icons::IconStage;
use reticle_models::manifest::Manifest;

/// The stage's manifest entry, as the output folder keeps it.
pub const STAGE_FILE: &str = "stage.json";

/// What one `reticle-train icons` call does.
#[derive(Debug, Clone)]
pub struct IconsJob {
    pub data: Option<PathBuf>,
    pub eval: Option<PathBuf>,
    pub out: PathBuf,
    pub config: IconTrainConfig,
    pub install: Vec<PathBuf>,
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| Error::Run {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    reticle_models::fsutil::write_atomic(path, &bytes)?;
    Ok(())
}

/// Trains (unless `out` has a stage), then installs; returns the stage.
pub fn run(job: &IconsJob, dev: Device) -> Result<IconStage> {
    let stage_path = job.out.join(STAGE_FILE);
    let stage: IconStage = if stage_path.is_file() {
        eprintln!(
            "[icons] {} exists: not training again",
            stage_path.display()
        );
        let text = std::fs::read_to_string(&stage_path).map_err(|e| Error::io(&stage_path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Run {
            path: stage_path.clone(),
            message: e.to_string(),
        })?
    } else {
        let (Some(data), Some(eval)) = (&job.data, &job.eval) else {
            return Err(Error::Config(format!(
                "{} holds no trained stage: --data and --eval are needed to train one",
                job.out.display()
            )));
        };
        let cfg = &job.config;
        if cfg.steps == 0
            || cfg.batch_size == 0
            || cfg.variants == 0
            || cfg.lr.is_nan()
            || cfg.lr <= 0.0
        {
            return Err(Error::Config(
                "icons: steps, batch_size, variants and lr must be positive".into(),
            ));
        }
        std::fs::create_dir_all(&job.out).map_err(|e| Error::io(&job.out, e))?;
        let train_set = load_sheets(data, cfg.variants, cfg.jitter, cfg.seed)?;
        let eval_set = load_sheets(eval, 1, 0.0, cfg.seed + 1)?;
        if train_set.classes != eval_set.classes {
            return Err(Error::Config(format!(
                "{} and {} name different icon classes",
                data.display(),
                eval.display()
            )));
        }
        eprintln!(
            "[icons] {} training crops, {} held-out crops, {} classes + other",
            train_set.len(),
            eval_set.len(),
            train_set.classes.len()
        );
        tch::manual_seed(cfg.seed as i64);
        let vs = nn::VarStore::new(dev);
        let net = IconNet::new(&vs.root(), train_set.classes.len() as i64 + 1);
        train(&vs, &net, &train_set, cfg)?;
        let report = evaluate(&net, &eval_set, cfg.threshold, dev)?;
        eprintln!(
            "[icons] held-out styles: top-1 {:.1} %, named right {:.1} %, named wrong {:.1} %, other named {:.1} % ({} icons, {} others)",
            100.0 * report.top1,
            100.0 * report.named_right,
            100.0 * report.named_wrong,
            100.0 * report.other_named,
            report.n_class,
            report.n_other
        );
        write_json(&job.out.join("eval.json"), &report)?;
        write_json(&job.out.join("config.json"), cfg)?;
        let exported = export_stage(
            &vs,
            &net,
            &train_set.classes,
            cfg.threshold,
            &eval_set,
            16,
            &job.out,
        )?;
        tch::Tensor::write_safetensors(
            &vs.variables().into_iter().collect::<Vec<_>>(),
            job.out.join("icons.safetensors"),
        )?;
        write_json(&stage_path, &exported.stage)?;
        exported.stage
    };
    for pkg in &job.install {
        install(&stage, &job.out, pkg)?;
        eprintln!("[icons] installed into {}", pkg.display());
    }
    Ok(stage)
}

/// Copies the stage's graph into package `pkg` and declares it in its manifest.
pub fn install(stage: &IconStage, from: &Path, pkg: &Path) -> Result<()> {
    let mut m = Manifest::load(pkg)?;
    if m.perception.ocr.is_none() {
        return Err(Error::Config(format!(
            "{}: the package has no OCR stage, and icons join the read text",
            pkg.display()
        )));
    }
    let src = from.join(ICONS_FILE);
    let bytes = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
    reticle_models::fsutil::write_atomic(&pkg.join(&stage.model.file), &bytes)?;
    m.perception.icons = Some(stage.clone());
    m.validate()
        .map_err(|message| Error::Config(format!("{}: {message}", pkg.display())))?;
    m.save(pkg)?;
    Ok(())
}
