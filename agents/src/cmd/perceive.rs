//! `reticle perceive`: read the text on an image with the perception stage (PP-OCRv6 on ONNX
//! Runtime) and print the spans — what a UI package's policy sees besides the pixels.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use reticle_models::preprocess::open_image;
use reticle_models::text::OcrConfig;
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
    #[command(flatten)]
    reader: ReaderArgs,
    /// Detection input size as a fraction of the image's (default: the reader's default).
    #[arg(long)]
    det_scale: Option<f32>,
    /// Read the image this many times and report the median timings (a quick speed check;
    /// the first read, which warms ONNX Runtime up, is not counted when N > 1).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Write a copy of the image with every line (blue) and word (green) box drawn, encoded by
    /// the extension (.png, .jpg, .jpeg; the folder must exist).
    #[arg(long, value_name = "OUT.png")]
    annotate: Option<PathBuf>,
}

/// How the text reader is set up; shared by `perceive` and `data perceive`.
#[derive(Debug, Args)]
pub struct ReaderArgs {
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
}

impl ReaderArgs {
    /// Checks the flags and reads `--ocr-config`, before any work is done.
    pub fn resolve(&self) -> anyhow::Result<(OcrConfig, ReaderOptions)> {
        let provider: Provider = self.provider.parse()?;
        let options = ReaderOptions {
            provider,
            intra_threads: self.threads,
        };
        let Some(path) = &self.ocr_config else {
            return Ok((OcrConfig::default(), options));
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --ocr-config {}", path.display()))?;
        let config: OcrConfig = toml::from_str(&text)
            .with_context(|| format!("parsing --ocr-config {}", path.display()))?;
        config
            .validate()
            .map_err(|m| anyhow::anyhow!("--ocr-config {}: {m}", path.display()))?;
        Ok((config, options))
    }
}

/// The default OCR graphs with `config` and `options`.
pub fn load_reader(config: &OcrConfig, options: &ReaderOptions) -> anyhow::Result<TextReader> {
    TextReader::load(&OcrFiles::default_files()?, config, options)
        .context("loading the text reader")
}

pub fn run(args: &PerceiveArgs) -> anyhow::Result<()> {
    let (mut config, options) = args.reader.resolve()?;
    if let Some(s) = args.det_scale {
        config.det_scale = s;
    }
    let reader = load_reader(&config, &options)?;
    if let Some(path) = &args.annotate {
        reticle_models::imageio::check_output(path)
            .with_context(|| format!("--annotate {}", path.display()))?;
    }
    let image = open_image(&args.image)
        .with_context(|| format!("reading --image {}", args.image.display()))?;
    let read = || {
        reader
            .read(&image)
            .with_context(|| format!("reading the text of {}", args.image.display()))
    };
    let mut reading = read()?;
    if args.repeat > 1 {
        let mut runs = Vec::with_capacity(args.repeat);
        for _ in 0..args.repeat {
            runs.push(read()?.timings);
        }
        let median = |f: fn(&reticle_runtime::perception::ReadTimings) -> std::time::Duration| {
            let mut v: Vec<_> = runs.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        reading.timings = reticle_runtime::perception::ReadTimings {
            prepare: median(|t| t.prepare),
            detect: median(|t| t.detect),
            recognize: median(|t| t.recognize),
            total: median(|t| t.total),
        };
    }
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
            "{} lines on {}{}: prepare {:.1} ms, detect {:.1} ms, recognize {:.1} ms, total {:.1} ms",
            reading.spans.len(),
            reader.provider(),
            if args.repeat > 1 {
                format!(", median of {} reads", args.repeat)
            } else {
                String::new()
            },
            millis(t.prepare),
            millis(t.detect),
            millis(t.recognize),
            millis(t.total)
        );
    }
    Ok(())
}
