//! `reticle robot`: ground a referring expression in an RGB-D frame and print the 3-D target
//! in the robot's base frame.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use reticle_agents::robot::{self, CameraModel, ReferOptions, RobotTarget};
use reticle_models::preprocess::open_image;
use reticle_runtime::{DecodeOptions, Pipeline, Provider};

#[derive(Debug, Args)]
pub struct RobotArgs {
    /// Model package folder (model.json, the ONNX graphs, tokenizer.json). Default: the
    /// shipped package — $RETICLE_MODEL, ./models/default, or the build checkout's models/default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// RGB camera frame (PNG or JPEG).
    #[arg(long, value_name = "RGB.png")]
    image: PathBuf,
    /// Depth image aligned pixel for pixel to the RGB frame: a 16-bit PNG, 0 = no reading.
    #[arg(long, value_name = "DEPTH.png")]
    depth: PathBuf,
    /// Camera file (TOML or JSON): intrinsics, optional distortion, depth scale,
    /// camera-to-base extrinsics, frame id, workspace limits (see docs/robot.md).
    #[arg(long, value_name = "CAMERA.toml")]
    camera: PathBuf,
    /// The referring expression, e.g. "the blue cube left of the red ball".
    #[arg(long)]
    instruction: String,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
    /// Side of the square depth window (odd, pixels); the depth is the median of its
    /// valid (non-zero) values.
    #[arg(long, default_value_t = 5)]
    window: u32,
    /// Print the target as JSON.
    #[arg(long)]
    json: bool,
    /// Write a copy of the RGB frame with the target pixel drawn on it, encoded by the
    /// extension (.png, .jpg, .jpeg; others are refused). The folder must exist.
    #[arg(long, value_name = "OUT.png")]
    annotate: Option<PathBuf>,
    /// Print targets outside the camera's workspace limits (with within_workspace = false)
    /// instead of failing.
    #[arg(long)]
    allow_outside: bool,
    /// Override the package's max_new_tokens.
    #[arg(long)]
    max_new_tokens: Option<usize>,
}

pub fn run(a: &RobotArgs) -> anyhow::Result<()> {
    // Cheap checks first, so that bad input fails before the model is loaded.
    let provider: Provider = a.provider.parse()?;
    let opts = ReferOptions {
        window: a.window,
        decode: DecodeOptions {
            max_new_tokens: a.max_new_tokens,
            ..DecodeOptions::greedy()
        },
        allow_outside: a.allow_outside,
    };
    opts.validate()?;
    if let Some(path) = &a.annotate {
        reticle_models::imageio::check_output(path)
            .with_context(|| format!("--annotate {}", path.display()))?;
    }
    let camera = CameraModel::from_path(&a.camera).context("reading --camera")?;
    let rgb =
        open_image(&a.image).with_context(|| format!("reading --image {}", a.image.display()))?;
    let depth = robot::read_depth_png(&a.depth).context("reading --depth")?;
    robot::check_sizes((rgb.width(), rgb.height()), depth.dimensions(), &camera).with_context(
        || {
            format!(
                "--image {}, --depth {}, --camera {}",
                a.image.display(),
                a.depth.display(),
                a.camera.display()
            )
        },
    )?;
    let model = reticle_agents::defaults::model_dir(a.model.as_deref())?;
    let grounder = Pipeline::load(&model, provider)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let target = robot::refer(&grounder, &rgb, &depth, &camera, &a.instruction, &opts)?;
    if let Some(path) = &a.annotate {
        annotate(&rgb, &target, path)?;
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&target)?);
    } else {
        print_text(&target)?;
    }
    Ok(())
}

fn print_text(t: &RobotTarget) -> anyhow::Result<()> {
    let [x, y, z] = t.location.xyz_m;
    let [u, v] = t.location.pixel;
    let outside = if t.location.within_workspace {
        ""
    } else {
        " OUTSIDE the workspace limits"
    };
    outln!(
        "target {x:.4} {y:.4} {z:.4} m in {}{outside} (pixel {u:.1} {v:.1}, depth {:.4} m from {} px)",
        t.location.frame_id,
        t.location.depth_m,
        t.location.depth_valid_pixels
    );
    let [cx, cy, cz] = t.location.camera_xyz_m;
    outln!("camera frame: {cx:.4} {cy:.4} {cz:.4} m");
    outln!("raw: {}", t.answer_text);
    let tm = &t.timings;
    outln!(
        "preprocess {:.1} ms, encode {:.1} ms, decode {:.1} ms, locate {:.2} ms, total {:.1} ms",
        tm.preprocess_ms,
        tm.encode_ms,
        tm.decode_ms,
        tm.locate_ms,
        tm.total_ms
    );
    Ok(())
}

/// Draws the target pixel (crosshair + circle) in red on a copy of the RGB frame.
fn annotate(rgb: &image::DynamicImage, t: &RobotTarget, path: &Path) -> anyhow::Result<()> {
    use imageproc::drawing::{draw_cross_mut, draw_hollow_circle_mut};
    let mut canvas = rgb.to_rgb8();
    let red = image::Rgb([255u8, 0, 0]);
    let r = (canvas.width().min(canvas.height()) / 40).max(4) as i32;
    let (x, y) = (
        t.location.pixel[0].round() as i32,
        t.location.pixel[1].round() as i32,
    );
    draw_cross_mut(&mut canvas, red, x, y);
    draw_hollow_circle_mut(&mut canvas, (x, y), r, red);
    draw_hollow_circle_mut(&mut canvas, (x, y), r + 1, red);
    reticle_models::imageio::save_rgb(path, &canvas)
        .with_context(|| format!("writing --annotate {}", path.display()))?;
    tracing::info!(path = %path.display(), "annotated image written");
    Ok(())
}
