//! Renders one sample of a synthetic suite in memory and writes it with its target drawn on
//! top, to see what a model is asked to ground.
//!
//! ```sh
//! cargo run -p reticle-suites --example suite_sample -- --suite ui --seed 3 --index 0 --out sample.png
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use image::Rgb;
use imageproc::drawing::{draw_filled_circle_mut, draw_hollow_rect_mut};
use imageproc::rect::Rect;
use reticle_models::dataset::Target;
use reticle_models::geometry::{BBox, Mask};
use reticle_suites::{self as suites, SuiteKind};

/// Command-line arguments, parsed by hand to keep the example dependency-free.
struct Args {
    suite: SuiteKind,
    seed: u64,
    index: usize,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        suite: SuiteKind::Ui,
        seed: 0,
        index: 0,
        out: PathBuf::from("sample.png"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--suite" => args.suite = value.parse().map_err(|e| format!("{e}"))?,
            "--seed" => args.seed = value.parse().map_err(|e| format!("--seed: {e}"))?,
            "--index" => args.index = value.parse().map_err(|e| format!("--index: {e}"))?,
            "--out" => args.out = PathBuf::from(value),
            other => {
                return Err(format!(
                    "unknown flag {other} (use --suite, --seed, --index, --out)"
                ))
            }
        }
    }
    Ok(args)
}

fn draw_box(img: &mut image::RgbImage, b: &BBox, colour: Rgb<u8>) {
    let w = b.width().max(1.0) as u32;
    let h = b.height().max(1.0) as u32;
    for grow in 0..3 {
        let r = Rect::at(b.x1 as i32 - grow, b.y1 as i32 - grow)
            .of_size(w + 2 * grow as u32, h + 2 * grow as u32);
        draw_hollow_rect_mut(img, r, colour);
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let sample = suites::sample(args.suite, args.seed, args.index).map_err(|e| e.to_string())?;
    let mut img = sample.image.clone();
    let magenta = Rgb([255, 0, 255]);
    match &sample.record.target {
        Target::Box(b) => draw_box(&mut img, b, magenta),
        Target::Boxes(bs) => bs.iter().for_each(|b| draw_box(&mut img, b, magenta)),
        Target::Point(p) => draw_filled_circle_mut(&mut img, (p.x as i32, p.y as i32), 6, magenta),
        Target::Mask(_) => {
            let mask: &Mask = sample.mask.as_ref().ok_or("mask target without a mask")?;
            if let Some(b) = mask.bbox() {
                draw_box(&mut img, &b, magenta);
            }
        }
        Target::Label(_) | Target::Count(_) => {}
    }
    img.save(&args.out)
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("instruction: {}", sample.record.instruction);
    println!(
        "target:      {}",
        serde_json::to_string(&sample.record.target).map_err(|e| e.to_string())?
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
