//! `reticle ground`: run a model package on one image and print the target in original
//! image pixels.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use reticle_models::grammar::Value;
use reticle_models::preprocess::{open_image, DepthRef};
use reticle_runtime::{
    millis, DecodeOptions, Frame, GroundOptions, Grounding, ImageInput, Pipeline, Provider,
};

#[derive(Debug, Args)]
pub struct GroundArgs {
    /// Model package folder (model.json, the ONNX graphs, tokenizer.json). Default: the
    /// shipped package — $RETICLE_MODEL, ./models/default, or the build checkout's models/default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Image to ground (PNG or JPEG).
    #[arg(long)]
    image: PathBuf,
    /// What to find, e.g. "click Save".
    #[arg(long)]
    instruction: String,
    /// Aligned 16-bit depth PNG, for RGB-D models only (refused for an RGB model).
    #[arg(long)]
    depth: Option<PathBuf>,
    /// Metres per depth unit (0.001 for millimetres).
    #[arg(long, default_value_t = 0.001)]
    depth_scale: f64,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also return the text read on the image (`spans` in the JSON, drawn by --annotate) and
    /// the icons a package with an icon reader named (spans with `icon`, their class); a
    /// package without an OCR stage reads the text with the default reader for this.
    #[arg(long)]
    spans: bool,
    /// Write a copy of the image with the answer drawn on it, encoded by the extension
    /// (.png, .jpg, .jpeg; others are refused; the folder must exist); with --spans also the
    /// read text's line (blue) and word (green) boxes and the named icons (magenta).
    #[arg(long, value_name = "OUT.png")]
    annotate: Option<PathBuf>,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Override the package's max_new_tokens.
    #[arg(long)]
    max_new_tokens: Option<usize>,
}

pub fn run(args: &GroundArgs) -> anyhow::Result<()> {
    let provider: Provider = args.provider.parse()?;
    let options = DecodeOptions {
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        max_new_tokens: args.max_new_tokens,
    };
    options.validate()?;
    if let Some(path) = &args.annotate {
        reticle_models::imageio::check_output(path)
            .with_context(|| format!("--annotate {}", path.display()))?;
    }
    let model = reticle_agents::defaults::model_dir(args.model.as_deref())?;
    let pipeline = Pipeline::load(&model, provider)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let image = open_image(&args.image)
        .with_context(|| format!("reading --image {}", args.image.display()))?;
    pipeline
        .manifest()
        .check_depth_input(args.depth.is_some())?;
    let depth = match &args.depth {
        Some(p) => Some(
            reticle_runtime::depth::read_depth16(p)
                .with_context(|| format!("reading --depth {}", p.display()))?,
        ),
        None => None,
    };
    let depth_ref = match &depth {
        Some(d) => Some(DepthRef::new(
            d.width(),
            d.height(),
            d.as_raw(),
            args.depth_scale,
        )?),
        None => None,
    };
    let frame = Frame {
        image: ImageInput::Image(&image),
        depth: depth_ref,
    };
    let out = pipeline.ground(
        frame,
        &args.instruction,
        &GroundOptions {
            decode: options,
            spans: args.spans,
        },
    )?;
    if let Some(path) = &args.annotate {
        let answers: Vec<&Value> = out.answer.as_ref().ok().into_iter().collect();
        let spans = out.spans.as_deref().unwrap_or_default();
        super::annotate::write(&image, &answers, spans, path)?;
    }
    if args.json {
        let v = serde_json::json!({
            "image": args.image,
            "size": [image.width(), image.height()],
            "instruction": args.instruction,
            "provider": pipeline.provider().to_string(),
            "point": out.answer.as_ref().ok().and_then(Value::first_point).map(|p| [p.x, p.y]),
            "result": out,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_text(&out, pipeline.provider())?;
    }
    if let Err(e) = &out.answer {
        bail!("the model's answer does not follow the grammar: {e}");
    }
    Ok(())
}

fn print_text(out: &Grounding, provider: Provider) -> anyhow::Result<()> {
    match &out.answer {
        Ok(Value::Points(ps)) => {
            for p in ps {
                outln!("point {:.1} {:.1}", p.x, p.y);
            }
        }
        Ok(Value::Boxes(ds)) if ds.is_empty() && out.nothing.is_some() => {
            outln!(
                "nothing: the instruction names nothing on the image (probability {:.2})",
                out.nothing.unwrap_or(f32::NAN)
            );
        }
        Ok(Value::Boxes(ds)) => {
            for d in ds {
                let b = d.bbox;
                outln!("box {:.1} {:.1} {:.1} {:.1}", b.x1, b.y1, b.x2, b.y2);
            }
        }
        Ok(Value::Count(n)) => {
            outln!("count {n}");
        }
        Ok(Value::Label(l)) => {
            outln!("label {l}");
        }
        Err(e) => {
            outln!("unparsed answer: {e}");
        }
    }
    if let Some(r) = &out.reasoning {
        outln!("reasoning: {r}");
    }
    outln!("raw: {}", out.text);
    if let Some(c) = out.confidence {
        outln!("confidence {c:.3}");
    }
    for c in out.candidates.iter().flatten() {
        outln!(
            "candidate {:.3} {} {:.1} {:.1}{}",
            c.probability,
            c.kind.name(),
            c.point.x,
            c.point.y,
            c.text
                .as_deref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default()
        );
    }
    let t = &out.timings;
    if let Some(spans) = &out.spans {
        for s in spans {
            let b = s.bbox;
            outln!(
                "{} {:.0} {:.0} {:.0} {:.0} {:.2} {}",
                if s.icon.is_some() { "icon" } else { "text" },
                b.x1,
                b.y1,
                b.x2,
                b.y2,
                s.score,
                s.text
            );
        }
    }
    outln!(
        "{} tokens on {provider}: perceive {:.1} ms, preprocess {:.1} ms, encode {:.1} ms, decode {:.1} ms",
        out.completion_tokens,
        millis(t.perceive),
        millis(t.preprocess),
        millis(t.encode),
        millis(t.decode)
    );
    Ok(())
}
