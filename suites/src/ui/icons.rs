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

/// Icons drawn only when `ui.icon_rate` > 0, so the default vocabulary keeps its seeds.
pub const MORE_ICONS: [&str; 12] = [
    "menu", "more", "edit", "refresh", "share", "filter", "calendar", "cart", "info", "back",
    "upload", "play",
];

/// What users call icon `name` in an instruction (its name first): "the settings icon" is
/// the gear. No word names two icons.
pub fn names(name: &str) -> &'static [&'static str] {
    match name {
        "trash" => &["trash", "delete", "bin", "trash can"],
        "gear" => &["gear", "settings", "cog", "preferences"],
        "search" => &["search", "magnifying glass", "find"],
        "home" => &["home", "house"],
        "star" => &["star", "favourite", "favorite"],
        "plus" => &["plus", "add", "new"],
        "folder" => &["folder", "open folder"],
        "mail" => &["mail", "email", "envelope", "inbox"],
        "user" => &["user", "profile", "account"],
        "heart" => &["heart", "like"],
        "download" => &["download"],
        "bell" => &["bell", "notifications", "alerts"],
        "lock" => &["lock", "padlock"],
        "menu" => &["menu", "hamburger menu", "main menu"],
        "more" => &["more", "more options", "three dots"],
        "edit" => &["edit", "pencil", "rename"],
        "refresh" => &["refresh", "reload"],
        "share" => &["share"],
        "filter" => &["filter", "funnel"],
        "calendar" => &["calendar", "date"],
        "cart" => &["cart", "shopping cart", "basket"],
        "info" => &["info", "information", "details"],
        "back" => &["back", "back arrow", "previous"],
        "upload" => &["upload"],
        "play" => &["play", "start"],
        _ => &[],
    }
}

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
        "menu" => {
            for y in [-0.26, 0.0, 0.26] {
                line(img, p(-0.38, y), p(0.38, y), t * 1.3, c);
            }
        }
        "more" => {
            for x in [-0.3, 0.0, 0.3] {
                fill_circle(img, cx + x * s, cy, 0.09 * s, c);
            }
        }
        "edit" => {
            fill_polygon(
                img,
                &[
                    p(-0.3, 0.16),
                    p(0.18, -0.32),
                    p(0.34, -0.16),
                    p(-0.14, 0.32),
                ],
                c,
            );
            fill_polygon(img, &[p(-0.3, 0.16), p(-0.14, 0.32), p(-0.4, 0.42)], c);
        }
        "refresh" => {
            let pts: Vec<(f32, f32)> = (0..=16)
                .map(|i| {
                    let a = (40.0 + 290.0 * i as f32 / 16.0).to_radians();
                    p(0.32 * a.cos(), 0.32 * a.sin())
                })
                .collect();
            polyline(img, &pts, t * 1.3, c);
            let a = 40f32.to_radians();
            let (ex, ey) = (0.32 * a.cos(), 0.32 * a.sin());
            fill_polygon(
                img,
                &[
                    p(ex - 0.2, ey - 0.02),
                    p(ex + 0.14, ey - 0.08),
                    p(ex, ey + 0.22),
                ],
                c,
            );
        }
        "share" => {
            let dots = [p(0.28, -0.3), p(-0.28, 0.0), p(0.28, 0.3)];
            polyline(img, &dots, t, c);
            for (x, y) in dots {
                fill_circle(img, x, y, 0.12 * s, c);
            }
        }
        "filter" => {
            fill_polygon(
                img,
                &[
                    p(-0.42, -0.34),
                    p(0.42, -0.34),
                    p(0.08, 0.04),
                    p(0.08, 0.42),
                    p(-0.08, 0.32),
                    p(-0.08, 0.04),
                ],
                c,
            );
        }
        "calendar" => {
            fill_round_rect(img, rect(p(-0.4, -0.32), p(0.4, 0.42)), 0.05 * s, c);
            fill_rect(img, rect(p(-0.32, -0.12), p(0.32, 0.34)), bg);
            for x in [-0.2, 0.2] {
                fill_rect(img, rect(p(x - 0.05, -0.44), p(x + 0.05, -0.24)), c);
            }
            for (x, y) in [
                (-0.16, 0.02),
                (0.0, 0.02),
                (0.16, 0.02),
                (-0.16, 0.18),
                (0.0, 0.18),
            ] {
                fill_rect(img, rect(p(x - 0.05, y - 0.05), p(x + 0.05, y + 0.05)), c);
            }
        }
        "cart" => {
            polyline(
                img,
                &[
                    p(-0.46, -0.34),
                    p(-0.3, -0.34),
                    p(-0.18, 0.14),
                    p(0.3, 0.14),
                    p(0.42, -0.2),
                    p(-0.24, -0.2),
                ],
                t * 1.2,
                c,
            );
            fill_circle(img, cx - 0.12 * s, cy + 0.32 * s, 0.08 * s, c);
            fill_circle(img, cx + 0.24 * s, cy + 0.32 * s, 0.08 * s, c);
        }
        "info" => {
            fill_circle(img, cx, cy, 0.44 * s, c);
            fill_rect(img, rect(p(-0.06, -0.06), p(0.06, 0.28)), bg);
            fill_circle(img, cx, cy - 0.2 * s, 0.07 * s, bg);
        }
        "back" => {
            line(img, p(0.36, 0.0), p(-0.3, 0.0), t * 1.3, c);
            polyline(
                img,
                &[p(-0.02, -0.3), p(-0.34, 0.0), p(-0.02, 0.3)],
                t * 1.3,
                c,
            );
        }
        "upload" => {
            line(img, p(0.0, 0.14), p(0.0, -0.22), t * 1.3, c);
            fill_polygon(img, &[p(-0.24, -0.16), p(0.24, -0.16), p(0.0, -0.42)], c);
            polyline(
                img,
                &[p(-0.4, 0.18), p(-0.4, 0.38), p(0.4, 0.38), p(0.4, 0.18)],
                t * 1.2,
                c,
            );
        }
        "play" => {
            fill_polygon(img, &[p(-0.24, -0.36), p(0.36, 0.0), p(-0.24, 0.36)], c);
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
