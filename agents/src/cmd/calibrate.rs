//! `reticle calibrate`: evaluate a pointer package with the nothing head on validation data,
//! sweep its `nothing_bias` and print (or, with `--write`, save into `model.json`) the most
//! accurate one.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reticle_models::manifest::Manifest;
use reticle_runtime::calibrate::{calibrate, outcomes, BiasScore, Calibration};
use reticle_runtime::{Pipeline, Provider};
use serde::Serialize;

use crate::cmd::eval::{checked_records, evaluate_with_progress};

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Pointer package with the nothing head (`"nothing": true` in model.json's `pointer`).
    /// Default: the shipped package — $RETICLE_MODEL, ./models/default, or the build
    /// checkout's models/default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Validation datasets: click or refer records, some naming nothing on their image
    /// (target `{"boxes": []}`). Never the sets you report: the bias is fitted to these. The
    /// mix decides the trade — the chosen bias maximises right answers over all records.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Save the chosen bias into the package's model.json (atomically).
    #[arg(long)]
    write: bool,
    /// Print JSON (the choice, the package's current bias and the whole sweep).
    #[arg(long)]
    json: bool,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    records: usize,
    written: bool,
    #[serde(flatten)]
    calibration: &'a Calibration,
}

pub fn run(args: &CalibrateArgs) -> anyhow::Result<()> {
    let provider: Provider = args.provider.parse()?;
    let model = reticle_agents::defaults::model_dir(args.model.as_deref())?;
    let mut manifest = Manifest::load(&model)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let current = match manifest.pointer.as_ref() {
        Some(p) if p.nothing => p.nothing_bias,
        Some(_) => anyhow::bail!(
            "{}: the pointer package has no nothing head (`pointer.nothing`), so there is \
             nothing to calibrate",
            model.display()
        ),
        None => anyhow::bail!(
            "{}: not a pointer package (architecture {}); only pointer packages with the \
             nothing head have a nothing_bias",
            model.display(),
            manifest.architecture.name()
        ),
    };
    let pipeline = Pipeline::load(&model, provider)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let records = checked_records(&args.data)?;
    let report = evaluate_with_progress(&pipeline, &records)?;
    let outcomes = outcomes(&records, &report.samples)?;
    let c = calibrate(&outcomes, current);
    if args.write {
        if let Some(p) = manifest.pointer.as_mut() {
            p.nothing_bias = c.chosen.bias;
        }
        let path = manifest.save(&model)?;
        tracing::info!(path = %path.display(), bias = c.chosen.bias, "saved nothing_bias");
    }
    if args.json {
        let r = Report {
            model: model.display().to_string(),
            records: outcomes.len(),
            written: args.write,
            calibration: &c,
        };
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    outln!(
        "{} click/refer records: {} naming something, {} naming nothing",
        outcomes.len(),
        c.chosen.positives,
        c.chosen.nothing
    );
    outln!(
        "{:>8}  {:>8}  {:>13}  {:>17}  {:>16}",
        "bias",
        "accuracy",
        "positives hit",
        "positives refused",
        "nothing refused"
    );
    let marked = |s: &BiasScore| {
        let mut m = String::new();
        if s.bias == current {
            m.push_str("  ← current");
        }
        if s.bias == c.chosen.bias {
            m.push_str("  ← chosen");
        }
        m
    };
    let mut rows: Vec<BiasScore> = c
        .sweep
        .iter()
        .filter(|s| (s.bias * 2.0).fract() == 0.0 && (-2.0..=4.0).contains(&s.bias))
        .copied()
        .collect();
    for s in [c.current, c.chosen] {
        if !rows.iter().any(|r| r.bias == s.bias) {
            rows.push(s);
        }
    }
    rows.sort_by(|a, b| a.bias.total_cmp(&b.bias));
    for s in &rows {
        outln!(
            "{:>8.2}  {:>7.1}%  {:>13}  {:>17}  {:>16}{}",
            s.bias,
            100.0 * s.accuracy,
            format!("{}/{}", s.positives_hit, s.positives),
            format!("{}/{}", s.positives_refused, s.positives),
            format!("{}/{}", s.nothing_refused, s.nothing),
            marked(s)
        );
    }
    if args.write {
        outln!(
            "wrote nothing_bias {:.2} into {}",
            c.chosen.bias,
            model.join("model.json").display()
        );
    } else {
        outln!(
            "chosen nothing_bias {:.2} (--write saves it into model.json)",
            c.chosen.bias
        );
    }
    Ok(())
}
