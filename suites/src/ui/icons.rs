//! Simple line-art icons drawn from primitives (no image assets), sized to a square.

use image::RgbImage;

use crate::canvas::{
    fill_circle, fill_polygon, fill_rect, fill_round_rect, line, polyline, stroke_circle, Color,
    Rect,
};

/// Icon names, as instructions say them ("click the gear icon").
pub const ICONS: [&str; 13] = [
    "trash", "gear", "search", "home", "star", "plus", "folder", "mail", "user", "heart",
    "download", "bell", "lock",
];

/// Draws icon `name` centred in `r` with stroke colour `c` over background `bg`.
pub fn draw_icon(img: &mut RgbImage, name: &str, r: Rect, c: Color, bg: Color) {
    let s = r.w.min(r.h) as f32;
    let (cx, cy) = r.center();
    let t = (s / 10.0).max(1.2);
    // Local coordinates in units of the icon size, centred.
    let p = |x: f32, y: f32| (cx + x * s, cy + y * s);
    match name {
        "trash" => {
            fill_polygon(
                img,
                &[p(-0.3, -0.22), p(0.3, -0.22), p(0.24, 0.42), p(-0.24, 0.42)],
                c,
            );
            fill_rect(img, rect(p(-0.38, -0.34), p(0.38, -0.26)), c);
            fill_rect(img, rect(p(-0.12, -0.44), p(0.12, -0.34)), c);
            for x in [-0.11, 0.0, 0.11] {
                line(img, p(x, -0.12), p(x, 0.32), t * 0.6, bg);
            }
        }
        "gear" => {
            let n = 8;
            let mut pts = Vec::with_capacity(n * 4);
            for i in 0..n {
                let a0 = i as f32 * std::f32::consts::TAU / n as f32;
                let w = 0.2;
                for (a, rr) in [
                    (a0 - w, 0.3),
                    (a0 - w * 0.6, 0.44),
                    (a0 + w * 0.6, 0.44),
                    (a0 + w, 0.3),
                ] {
                    pts.push(p(rr * a.cos(), rr * a.sin()));
                }
            }
            fill_polygon(img, &pts, c);
            fill_circle(img, cx, cy, 0.13 * s, bg);
        }
        "search" => {
            stroke_circle(img, cx - 0.08 * s, cy - 0.08 * s, 0.24 * s, t * 1.2, c);
            line(img, p(0.1, 0.1), p(0.38, 0.38), t * 1.5, c);
        }
        "home" => {
            fill_polygon(img, &[p(0.0, -0.42), p(0.44, 0.0), p(-0.44, 0.0)], c);
            fill_rect(img, rect(p(-0.3, -0.02), p(0.3, 0.4)), c);
            fill_rect(img, rect(p(-0.08, 0.12), p(0.08, 0.4)), bg);
        }
        "star" => {
            let pts: Vec<(f32, f32)> = (0..10)
                .map(|i| {
                    let a = i as f32 * std::f32::consts::PI / 5.0;
                    let rr = if i % 2 == 0 { 0.46 } else { 0.19 };
                    p(rr * a.sin(), -rr * a.cos() + 0.04)
                })
                .collect();
            fill_polygon(img, &pts, c);
        }
        "plus" => {
            line(img, p(0.0, -0.36), p(0.0, 0.36), t * 1.4, c);
            line(img, p(-0.36, 0.0), p(0.36, 0.0), t * 1.4, c);
        }
        "folder" => {
            fill_round_rect(img, rect(p(-0.44, -0.3), p(-0.04, -0.14)), 0.04 * s, c);
            fill_round_rect(img, rect(p(-0.44, -0.2), p(0.44, 0.34)), 0.06 * s, c);
        }
        "mail" => {
            fill_round_rect(img, rect(p(-0.44, -0.3), p(0.44, 0.3)), 0.05 * s, c);
            fill_round_rect(img, rect(p(-0.36, -0.22), p(0.36, 0.22)), 0.02 * s, bg);
            polyline(img, &[p(-0.36, -0.2), p(0.0, 0.06), p(0.36, -0.2)], t, c);
        }
        "user" => {
            fill_circle(img, cx, cy - 0.16 * s, 0.17 * s, c);
            fill_polygon(
                img,
                &[
                    p(-0.36, 0.42),
                    p(-0.3, 0.16),
                    p(-0.14, 0.06),
                    p(0.14, 0.06),
                    p(0.3, 0.16),
                    p(0.36, 0.42),
                ],
                c,
            );
        }
        "heart" => {
            fill_circle(img, cx - 0.18 * s, cy - 0.1 * s, 0.2 * s, c);
            fill_circle(img, cx + 0.18 * s, cy - 0.1 * s, 0.2 * s, c);
            fill_polygon(img, &[p(-0.37, -0.03), p(0.37, -0.03), p(0.0, 0.4)], c);
        }
        "download" => {
            line(img, p(0.0, -0.42), p(0.0, 0.12), t * 1.3, c);
            fill_polygon(img, &[p(-0.24, 0.0), p(0.24, 0.0), p(0.0, 0.24)], c);
            polyline(
                img,
                &[p(-0.4, 0.18), p(-0.4, 0.38), p(0.4, 0.38), p(0.4, 0.18)],
                t * 1.2,
                c,
            );
        }
        "bell" => {
            fill_polygon(
                img,
                &[
                    p(-0.1, -0.34),
                    p(0.1, -0.34),
                    p(0.28, -0.1),
                    p(0.3, 0.18),
                    p(0.4, 0.28),
                    p(-0.4, 0.28),
                    p(-0.3, 0.18),
                    p(-0.28, -0.1),
                ],
                c,
            );
            fill_circle(img, cx, cy + 0.36 * s, 0.08 * s, c);
            fill_circle(img, cx, cy - 0.38 * s, 0.05 * s, c);
        }
        _ => {
            // "lock": shackle ring, then the body hides its lower half.
            stroke_circle(img, cx, cy - 0.12 * s, 0.19 * s, t * 1.2, c);
            fill_round_rect(img, rect(p(-0.32, -0.06), p(0.32, 0.42)), 0.05 * s, c);
            fill_circle(img, cx, cy + 0.16 * s, 0.06 * s, bg);
        }
    }
}

fn rect(a: (f32, f32), b: (f32, f32)) -> Rect {
    let (x0, y0) = (a.0.round() as i32, a.1.round() as i32);
    Rect::new(
        x0,
        y0,
        (b.0.round() as i32 - x0).max(1),
        (b.1.round() as i32 - y0).max(1),
    )
}
