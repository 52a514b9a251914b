//! Bare X displays: a plain root window (black, grey or a dark solid colour) with one small
//! undecorated dialog — a message and a row of buttons, drawn as `xmessage` (Athena: white,
//! 1-px border, oval buttons), Motif/Tk (grey, bevelled buttons) or a plain toolkit (white,
//! rectangular buttons) would. What `reticle desktop` meets under a bare Xvfb, unlike the
//! full desktops of the rest of the suite. Drawn when `[ui] bare_dialog_rate` picks it.

use image::RgbImage;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::window::bevel;
use super::{click_sample, visible_texts, UiConfig};
use crate::canvas::{bordered_round_rect, fill_rect, stroke_rect, Color, Rect};
use crate::error::Result;
use crate::font::{fonts, Ink, Recording, Weight};
use crate::Sample;

const BUTTON_SETS: &[&[&str]] = &[
    &["Cancel", "OK"],
    &["OK", "Cancel"],
    &["OK"],
    &["Yes", "No"],
    &["Yes", "No", "Cancel"],
    &["Save", "Discard", "Cancel"],
    &["Retry", "Abort"],
    &["Delete", "Keep"],
    &["Quit", "Help"],
    &["Close"],
    &["Apply", "Close"],
    &["Continue", "Stop"],
    &["Okay", "Dismiss"],
];

const MESSAGES: &[&str] = &[
    "Save the changes to report.txt?",
    "Delete 3 selected files?",
    "The connection was lost.",
    "Overwrite the existing file?",
    "Quit without saving?",
    "Print 12 pages?",
    "Disk almost full (97%).",
    "Restart the session now?",
    "Unsaved changes in notes.md",
    "Update available: 2.4.1",
    "Really log out?",
    "Discard the draft?",
];

/// How the dialog is drawn.
#[derive(Debug, Clone, Copy)]
enum Look {
    /// `xmessage`: white, a 1-px black border, the message in a bordered box, oval buttons.
    Athena,
    /// Motif / Tk: grey, bevelled buttons in a row at the bottom.
    Motif,
    /// A plain toolkit: white, rectangular 1-px buttons on the right.
    Plain,
}

pub(super) fn render(
    cfg: &UiConfig,
    rng: &mut ChaCha8Rng,
    id: String,
    recording: Recording,
) -> Result<Sample> {
    let [w, h] = *cfg.resolutions.choose(rng).unwrap_or(&[1280, 800]);
    let scale: f32 = *[1.0f32, 1.0, 1.0, 1.25, 2.0].choose(rng).unwrap_or(&1.0);
    let root: Color = *[
        [0, 0, 0],
        [0, 0, 0],
        [48, 48, 48],
        [96, 96, 96],
        [0, 48, 64],
        [40, 24, 56],
    ]
    .choose(rng)
    .unwrap_or(&[0, 0, 0]);
    let mut img = RgbImage::from_pixel(w, h, image::Rgb(root));
    let f = fonts()?;
    let look = *[Look::Athena, Look::Athena, Look::Motif, Look::Plain]
        .choose(rng)
        .unwrap_or(&Look::Athena);
    let px = rng.gen_range(12.0..15.5) * scale;
    let weight = if matches!(look, Look::Athena) && rng.gen_bool(0.7) {
        Weight::Bold
    } else {
        Weight::Regular
    };
    let d = |v: f32| (v * scale).round() as i32;
    let message = *MESSAGES.choose(rng).unwrap_or(&MESSAGES[0]);
    let labels = *BUTTON_SETS.choose(rng).unwrap_or(&BUTTON_SETS[0]);
    let ink = Ink::new(weight, px, [0, 0, 0]);
    let msg_w = f.width(weight, px, message).ceil() as i32;
    let line_h = (px * 1.4).ceil() as i32;
    let pad = d(rng.gen_range(3.0..10.0));
    let gap = d(rng.gen_range(3.0..12.0));
    let bh = (px * 1.5).ceil() as i32 + d(2.0);
    let widths: Vec<i32> = labels
        .iter()
        .map(|l| {
            f.width(weight, px, l).ceil() as i32
                + d(if matches!(look, Look::Athena) {
                    10.0
                } else {
                    22.0
                })
        })
        .collect();
    let row_w: i32 = widths.iter().sum::<i32>() + gap * (labels.len() as i32 - 1);
    let ww = (msg_w + 2 * pad + d(8.0)).max(row_w + 2 * pad);
    let wh = pad + line_h + d(6.0) + gap + bh + pad;
    let (x, y) = if rng.gen_bool(0.6) {
        ((w as i32 - ww) / 2, (h as i32 - wh) / 2)
    } else {
        (
            rng.gen_range(0..(w as i32 - ww).max(1)),
            rng.gen_range(0..(h as i32 - wh).max(1)),
        )
    };
    let win = Rect::new(x, y, ww, wh);
    let face: Color = match look {
        Look::Motif => [217, 217, 217],
        _ => [255, 255, 255],
    };
    match look {
        Look::Motif => bevel(&mut img, win, face, false),
        _ => {
            fill_rect(&mut img, win, face);
            stroke_rect(&mut img, win, 1, [0, 0, 0]);
        }
    }
    // The message, in a bordered box for xmessage.
    let msg_box = Rect::new(x + pad, y + pad, ww - 2 * pad, line_h + d(6.0));
    if matches!(look, Look::Athena) {
        stroke_rect(&mut img, msg_box, 1, [0, 0, 0]);
    }
    let baseline = msg_box.y as f32 + msg_box.h as f32 / 2.0 + f.cap_height(px) / 2.0;
    f.draw(
        &mut img,
        ink,
        (msg_box.x + d(4.0)) as f32,
        baseline,
        message,
    );
    // The buttons.
    let by = msg_box.bottom() + gap;
    let mut bx = match look {
        Look::Plain => x + ww - pad - row_w,
        Look::Motif => x + (ww - row_w) / 2,
        Look::Athena => x + pad,
    };
    let mut rects = Vec::with_capacity(labels.len());
    for (label, bw) in labels.iter().zip(&widths) {
        let r = Rect::new(bx, by, *bw, bh);
        match look {
            Look::Athena => {
                bordered_round_rect(&mut img, r, bh as f32 / 2.0, 1, face, [0, 0, 0]);
            }
            Look::Motif => bevel(&mut img, r, face, false),
            Look::Plain => {
                fill_rect(&mut img, r, [240, 240, 240]);
                stroke_rect(&mut img, r, 1, [0, 0, 0]);
            }
        }
        let (cx, cy) = r.center();
        f.draw_centered(&mut img, ink, cx, cy, label);
        rects.push((label.to_string(), r));
        bx += bw + gap;
    }
    let (label, target) = rects
        .choose(rng)
        .cloned()
        .unwrap_or_else(|| rects[0].clone());
    let instruction = match rng.gen_range(0..8) {
        0 => format!("click the {label} button"),
        1 => format!("click {label}"),
        2 => format!("press {label}"),
        3 => format!("the {label} button"),
        4 => format!("choose {label}"),
        5 => format!("hit {label}"),
        6 => format!("click on {label}"),
        _ => label.clone(),
    };
    let meta = json!({
        "element": "button",
        "label": label,
        "window": null,
        "template": "bare_dialog",
        "resolution": [w, h],
        "scale": scale,
        "theme": "bare",
        "style": match look { Look::Athena => "athena", Look::Motif => "motif", Look::Plain => "plain" },
        "accent": null,
        "font_px": (f64::from(px) * 10.0).round() / 10.0,
        "n_windows": 1,
        "menu_open": null,
        "n_elements": labels.len(),
        "texts": visible_texts(recording.finish(), &[]),
    });
    let (cx, cy) = target.center();
    let cot = format!(
        "The {label} button is in the row of buttons under the message, at ({cx:.0},{cy:.0})."
    );
    Ok(click_sample(img, id, instruction, target, cot, meta))
}
