//! Draws the element proposals of an image (`reticle_models::elements`): what the pointer
//! policy can choose besides patches and read text. Blue boxes are `frame`s (fields, boxes,
//! rings), orange ones `glyph`s (icons); with a spans file (`reticle data perceive`), the read
//! words are drawn in grey and no proposal falls mostly inside one.
//!
//! ```sh
//! cargo run --release -p reticle-models --example elements -- screen.png out.png [spans.jsonl]
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use image::Rgb;
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect;
use reticle_models::elements;
use reticle_models::geometry::BBox;
use reticle_models::text::{SpansRecord, TextSpan};

fn rect(b: &BBox) -> Rect {
    Rect::at(b.x1 as i32, b.y1 as i32)
        .of_size(b.width().max(1.0) as u32, b.height().max(1.0) as u32)
}

/// The spans read on `image` (matched by file name) in a spans file.
fn spans_for(file: &Path, image: &Path) -> Result<Vec<TextSpan>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let name = image.file_name().unwrap_or_default();
    for (i, line) in text.lines().enumerate() {
        let r: SpansRecord =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", file.display(), i + 1))?;
        if Path::new(&r.image).file_name() == Some(name) {
            return Ok(r.spans);
        }
    }
    Err(format!(
        "{} has no spans for {}",
        file.display(),
        image.display()
    ))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out, rest @ ..] = args.as_slice() else {
        return Err("usage: elements IMAGE OUT.png [SPANS.jsonl]".into());
    };
    let img = reticle_models::imageio::open(Path::new(input))
        .map_err(|e| e.to_string())?
        .to_rgb8();
    let spans = match rest.first() {
        Some(f) => spans_for(Path::new(f), Path::new(input))?,
        None => Vec::new(),
    };
    let words = elements::text_boxes(&spans);
    let t = Instant::now();
    let found = elements::detect(&img, &words);
    let took = t.elapsed();
    let mut canvas = img.clone();
    for w in &words {
        draw_hollow_rect_mut(&mut canvas, rect(w), Rgb([150, 150, 150]));
    }
    for e in &found {
        let colour = if e.shape.contains(&"frame") {
            Rgb([20, 90, 255])
        } else {
            Rgb([255, 120, 0])
        };
        draw_hollow_rect_mut(&mut canvas, rect(&e.bbox), colour);
        println!("{:?} {}", <[f64; 4]>::from(e.bbox), e.description());
    }
    canvas.save(out).map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "{} proposals on {}×{} ({} read words) in {:.1} ms → {out}",
        found.len(),
        img.width(),
        img.height(),
        words.len(),
        took.as_secs_f64() * 1e3
    );
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
