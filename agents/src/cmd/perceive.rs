//! `reticle perceive`: read the text on an image with the perception stage (PP-OCRv6 on ONNX
//! Runtime) and print the spans — what a UI package's policy sees besides the pixels.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reticle_models::preprocess::open_image;
use reticle_runtime::perception::{OcrFiles, ReaderOptions, TextReader};
use reticle_runtime::{millis, Provider};

#[derive(Debug, Args)]
pub struct PerceiveArgs {
    /// Image to read (PNG or JPEG; RGB, RGBA, gray or 16-bit).
    #[arg(long)]
    image: PathBuf,
    /// Print JSON: {"spans": [{"text", "box", "score", "words": [{"text", "box"}]}], "timings"}.
    #[arg(long)]
    json: bool,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
    /// Intra-op threads per ONNX Runtime session (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// The reader's knobs as TOML (`det_scale = 0.75`, `rec_min_width = 64`, …; see
    /// docs/perception.md); default: the reader's defaults.
    #[arg(long, value_name = "FILE.toml")]
    ocr_config: Option<PathBuf>,
    /// Detection input size as a fraction of the image's (default: the reader's default).
    #[arg(long)]
    det_scale: Option<f32>,
    /// Write a copy of the image with every line (blue) and word (green) box drawn (PNG).
    #[arg(long, value_name = "OUT.png")]
    annotate: Option<PathBuf>,
}

pub fn run(args: &PerceiveArgs) -> anyhow::Result<()> {
    let provider: Provider = args.provider.parse()?;
    let mut config = super::data_perceive::ocr_config(args.ocr_config.as_deref())?;
    if let Some(s) = args.det_scale {
        config.det_scale = s;
    }
    let files = OcrFiles::default_files()?;
    let reader = TextReader::load(
        &files,
        &config,
        &ReaderOptions {
            provider,
            intra_threads: args.threads,
        },
    )
    .context("loading the text reader")?;
    let image = open_image(&args.image)
        .with_context(|| format!("reading --image {}", args.image.display()))?;
    let reading = reader
        .read(&image)
        .with_context(|| format!("reading the text of {}", args.image.display()))?;
    if let Some(path) = &args.annotate {
        super::annotate::write(&image, &[], &reading.spans, path)?;
    }
    if args.json {
        let v = serde_json::json!({
            "image": args.image,
            "size": [reading.width, reading.height],
            "provider": reader.provider().to_string(),
            "spans": reading.spans,
            "timings": reading.timings,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for s in &reading.spans {
            let b = s.bbox;
            outln!(
                "{:>5.0} {:>5.0} {:>5.0} {:>5.0}  {:.2}  {}",
                b.x1,
                b.y1,
                b.x2,
                b.y2,
                s.score,
                s.text
            );
        }
        let t = &reading.timings;
        outln!(
            "{} lines on {}: prepare {:.1} ms, detect {:.1} ms, recognize {:.1} ms, total {:.1} ms",
            reading.spans.len(),
            reader.provider(),
            millis(t.prepare),
            millis(t.detect),
            millis(t.recognize),
            millis(t.total)
        );
    }
    Ok(())
}
