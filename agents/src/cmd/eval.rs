//! `reticle eval`: greedy-decode a dataset with a model package through ONNX Runtime and
//! print the same metrics table as `reticle-train eval`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reticle_models::dataset::Record;
use reticle_models::rewards::RewardConfig;
use reticle_runtime::eval::{evaluate, EvalReport};
use reticle_runtime::{Pipeline, Provider};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model package folder (model.json, the ONNX graphs, tokenizer.json). Default: the
    /// shipped package — $RETICLE_MODEL, ./models/default, or the build checkout's models/default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Datasets (a folder with data.jsonl, or a JSONL file). They are checked first as by
    /// `reticle data check`: a dataset with any problem, or with no record, is refused.
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

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let provider: Provider = args.provider.parse()?;
    let model = reticle_agents::defaults::model_dir(args.model.as_deref())?;
    let pipeline = Pipeline::load(&model, provider)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let mut records = checked_records(&args.data)?;
    if args.max > 0 {
        records.truncate(args.max);
    }
    let report = evaluate_with_progress(&pipeline, &records)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", report.summary);
    }
    Ok(())
}

/// Evaluates every record with a progress bar on stderr.
pub(crate) fn evaluate_with_progress(
    pipeline: &Pipeline,
    records: &[Record],
) -> anyhow::Result<EvalReport> {
    let bar = ProgressBar::new(records.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = evaluate(pipeline, records, &RewardConfig::default(), &|n| {
        bar.set_position(n as u64)
    })
    .context("evaluating")?;
    bar.finish_and_clear();
    tracing::info!(n = records.len(), provider = %pipeline.provider(), "evaluated package");
    Ok(report)
}

/// The records of `paths`, refused (every problem printed) unless `reticle data check` would
/// pass them: a wrong-size mask or a box outside its image would otherwise be scored as a miss.
pub(crate) fn checked_records(paths: &[PathBuf]) -> anyhow::Result<Vec<Record>> {
    let (records, problems) = crate::cmd::data::check_datasets(paths)?;
    if !problems.is_empty() {
        crate::cmd::data::report_problems(&problems);
        anyhow::bail!(
            "{} problem(s) in the dataset; fix them (`reticle data check` lists them) before evaluating",
            problems.len()
        );
    }
    if records.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!("no records to evaluate in {}", names.join(", "));
    }
    Ok(records)
}
