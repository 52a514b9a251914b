//! `reticle eval`: greedy-decode a dataset with a model package through ONNX Runtime and
//! print the same metrics table as `reticle-train eval`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reticle_models::dataset::{read_dataset, Record, Target};
use reticle_models::geometry::Mask;
use reticle_models::grammar;
use reticle_models::metrics::{Metrics, MetricsSummary};
use reticle_models::preprocess::{open_image, DepthRef};
use reticle_models::rewards::RewardConfig;
use reticle_runtime::{DecodeOptions, Grounder, ImageInput, Provider};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model package folder.
    #[arg(long)]
    model: PathBuf,
    /// Datasets (a folder with data.jsonl, or a JSONL file).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Evaluate at most this many records (0 = all).
    #[arg(long, default_value_t = 0)]
    max: usize,
    /// Print JSON (metrics and completions) instead of a table.
    #[arg(long)]
    json: bool,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
}

/// One evaluated record (the same fields as the trainer's report).
#[derive(Debug, Serialize)]
struct EvalSample {
    id: String,
    instruction: String,
    completion: String,
}

#[derive(Debug, Serialize)]
struct EvalReport {
    summary: MetricsSummary,
    samples: Vec<EvalSample>,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let provider: Provider = args.provider.parse()?;
    let grounder = Grounder::load(&args.model, provider)
        .with_context(|| format!("loading model package {}", args.model.display()))?;
    let mut records = Vec::new();
    for d in &args.data {
        records.extend(read_dataset(d)?);
    }
    if args.max > 0 {
        records.truncate(args.max);
    }
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut metrics = Metrics::new(&RewardConfig::default());
    let mut samples = Vec::with_capacity(records.len());
    for record in &records {
        let completion = evaluate_one(&grounder, record, &mut metrics)
            .with_context(|| format!("record {}", record.id))?;
        samples.push(EvalSample {
            id: record.id.clone(),
            instruction: record.instruction.clone(),
            completion,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = EvalReport {
        summary: metrics.summary(),
        samples,
    };
    tracing::info!(n = records.len(), provider = %grounder.provider(), "evaluated package");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.summary);
    }
    Ok(())
}

/// Grounds one record and adds it to `metrics`; returns the completion.
fn evaluate_one(
    grounder: &Grounder,
    record: &Record,
    metrics: &mut Metrics,
) -> anyhow::Result<String> {
    let image = open_image(&record.image)?;
    let depth = match &record.depth {
        Some(p) => Some(reticle_models::suites::read_depth(p)?),
        None => None,
    };
    let scale = record.camera.map_or(0.001, |k| k.depth_scale);
    let depth_ref = match &depth {
        Some(d) => Some(DepthRef::new(d.width(), d.height(), d.as_raw(), scale)?),
        None => None,
    };
    let out = grounder.ground_with(
        ImageInput::Image(&image),
        depth_ref,
        &record.instruction,
        &DecodeOptions::greedy(),
    )?;
    let mask = match &record.target {
        Target::Mask(p) => Some(Mask::load(p)?),
        _ => None,
    };
    // Metrics map the answer from the model's frame themselves: parse the raw text.
    metrics.add(
        record,
        &grammar::parse(&out.text),
        &out.frame,
        mask.as_ref(),
        out.completion_tokens,
    );
    Ok(out.text)
}
