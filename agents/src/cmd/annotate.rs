//! Annotated copies of images: the answer's points and boxes in red, read text thinly
//! (lines blue, words green) and named icons in magenta, so a user can see what the model
//! was given.

use std::path::Path;

use anyhow::Context;
use imageproc::drawing::{draw_cross_mut, draw_hollow_circle_mut, draw_hollow_rect_mut};
use imageproc::rect::Rect;
use reticle_models::geometry::BBox;
use reticle_models::grammar::Value;
use reticle_models::text::TextSpan;

fn rect(b: &BBox) -> Rect {
    let w = (b.width().round() as u32).max(1);
    let h = (b.height().round() as u32).max(1);
    Rect::at(b.x1.round() as i32, b.y1.round() as i32).of_size(w, h)
}

/// Draws `answers` (points: crosshair + circle; boxes: rectangles) in red over `spans`, and
/// writes the image atomically, encoded by the path's extension (.png, .jpg, .jpeg).
pub fn write(
    image: &image::DynamicImage,
    answers: &[&Value],
    spans: &[TextSpan],
    path: &Path,
) -> anyhow::Result<()> {
    let mut canvas = image.to_rgb8();
    for s in spans {
        let colour = if s.icon.is_some() {
            image::Rgb([230u8, 0, 200])
        } else {
            image::Rgb([40u8, 90, 255])
        };
        draw_hollow_rect_mut(&mut canvas, rect(&s.bbox), colour);
        for w in &s.words {
            let b = BBox::new(
                w.bbox.x1 + 1.0,
                w.bbox.y1 + 2.0,
                w.bbox.x2 - 1.0,
                w.bbox.y2 - 2.0,
            );
            draw_hollow_rect_mut(&mut canvas, rect(&b), image::Rgb([0u8, 170, 60]));
        }
    }
    let red = image::Rgb([255u8, 0, 0]);
    let r = (canvas.width().min(canvas.height()) / 40).max(4) as i32;
    for value in answers {
        match value {
            Value::Points(ps) => {
                for p in ps {
                    let (x, y) = (p.x.round() as i32, p.y.round() as i32);
                    draw_cross_mut(&mut canvas, red, x, y);
                    draw_hollow_circle_mut(&mut canvas, (x, y), r, red);
                }
            }
            Value::Boxes(ds) => {
                for d in ds {
                    draw_hollow_rect_mut(&mut canvas, rect(&d.bbox), red);
                }
            }
            _ => {}
        }
    }
    reticle_models::imageio::save_rgb(path, &canvas)
        .with_context(|| format!("writing the annotated image {}", path.display()))?;
    tracing::info!(path = %path.display(), "annotated image written");
    Ok(())
}
