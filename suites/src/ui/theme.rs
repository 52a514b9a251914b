//! Colour themes and window-decoration styles of the `ui` suite.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::canvas::{mix, Color};

/// How title bars, controls and the desktop bar look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Centred title, traffic-light controls on the left, menu bar at the top of the screen.
    Mac,
    /// Left title, flat min / max / close controls on the right, taskbar at the bottom.
    Win,
    /// Bevelled grey widgets and a blue title bar, taskbar with a Start button.
    Classic,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::Mac => "mac",
            Style::Win => "win",
            Style::Classic => "classic",
        }
    }
}

/// Every colour a screen is painted with.
#[derive(Debug, Clone)]
pub struct Theme {
    pub name: &'static str,
    pub style: Style,
    pub accent_name: &'static str,
    pub accent: Color,
    pub on_accent: Color,
    pub window: Color,
    pub title_bg: Color,
    pub title_inactive: Color,
    pub title_text: Color,
    pub text: Color,
    pub muted: Color,
    pub border: Color,
    pub field: Color,
    pub button: Color,
    pub button_text: Color,
    pub bar: Color,
    pub selection: Color,
    pub list_alt: Color,
    /// Corner radius in logical pixels.
    pub radius: f32,
    pub desktop: (Color, Color),
}

const ACCENTS: [(&str, Color); 7] = [
    ("blue", [37, 99, 235]),
    ("green", [22, 140, 76]),
    ("purple", [124, 58, 237]),
    ("orange", [234, 108, 10]),
    ("teal", [13, 148, 136]),
    ("red", [210, 45, 45]),
    ("pink", [214, 51, 132]),
];

const WALLPAPERS: [(Color, Color); 8] = [
    ([30, 60, 114], [42, 82, 152]),
    ([15, 32, 39], [44, 83, 100]),
    ([131, 96, 195], [46, 191, 145]),
    ([255, 126, 95], [254, 180, 123]),
    ([67, 67, 67], [20, 20, 20]),
    ([0, 128, 128], [0, 100, 110]),
    ([100, 160, 220], [190, 220, 245]),
    ([60, 30, 80], [180, 80, 120]),
];

impl Theme {
    pub fn random(rng: &mut ChaCha8Rng) -> Theme {
        let style = match rng.gen_range(0..10) {
            0..=3 => Style::Mac,
            4..=7 => Style::Win,
            _ => Style::Classic,
        };
        let (accent_name, accent) = ACCENTS[rng.gen_range(0..ACCENTS.len())];
        let desktop = WALLPAPERS[rng.gen_range(0..WALLPAPERS.len())];
        if style == Style::Classic {
            let grey = [212, 208, 200];
            return Theme {
                name: "classic",
                style,
                accent_name: "navy",
                accent: [10, 36, 106],
                on_accent: [255, 255, 255],
                window: grey,
                title_bg: [10, 36, 106],
                title_inactive: [128, 128, 128],
                title_text: [255, 255, 255],
                text: [0, 0, 0],
                muted: [80, 80, 80],
                border: [128, 128, 128],
                field: [255, 255, 255],
                button: grey,
                button_text: [0, 0, 0],
                bar: grey,
                selection: [10, 36, 106],
                list_alt: [255, 255, 255],
                radius: 0.0,
                desktop: ([0, 128, 128], [0, 118, 118]),
            };
        }
        let jitter = |c: Color, rng: &mut ChaCha8Rng| -> Color {
            let d = rng.gen_range(-6i32..=6);
            c.map(|v| (v as i32 + d).clamp(0, 255) as u8)
        };
        let dark = rng.gen_bool(0.4);
        let tinted = !dark && rng.gen_bool(0.25);
        let radius = [0.0, 4.0, 6.0, 8.0][rng.gen_range(0..4)];
        if dark {
            let window = jitter([38, 40, 46], rng);
            Theme {
                name: "dark",
                style,
                accent_name,
                accent,
                on_accent: [255, 255, 255],
                window,
                title_bg: mix(window, [0, 0, 0], 0.25),
                title_inactive: mix(window, [0, 0, 0], 0.1),
                title_text: [230, 230, 232],
                text: [228, 228, 231],
                muted: [150, 152, 160],
                border: mix(window, [255, 255, 255], 0.18),
                field: mix(window, [0, 0, 0], 0.3),
                button: mix(window, [255, 255, 255], 0.12),
                button_text: [235, 235, 238],
                bar: mix(window, [0, 0, 0], 0.15),
                selection: mix(window, accent, 0.55),
                list_alt: mix(window, [255, 255, 255], 0.04),
                radius,
                desktop,
            }
        } else {
            let window = jitter([246, 246, 247], rng);
            let title_bg = if tinted {
                accent
            } else {
                mix(window, [0, 0, 0], 0.06)
            };
            Theme {
                name: if tinted { "tinted" } else { "light" },
                style,
                accent_name,
                accent,
                on_accent: [255, 255, 255],
                window,
                title_bg,
                title_inactive: mix(window, [0, 0, 0], 0.03),
                title_text: if tinted {
                    [255, 255, 255]
                } else {
                    [40, 40, 45]
                },
                text: [30, 30, 35],
                muted: [110, 112, 120],
                border: [200, 201, 206],
                field: [255, 255, 255],
                button: [255, 255, 255],
                button_text: [30, 30, 35],
                bar: mix(window, [0, 0, 0], 0.03),
                selection: mix([255, 255, 255], accent, 0.22),
                list_alt: mix(window, [0, 0, 0], 0.02),
                radius,
                desktop,
            }
        }
    }

    /// Text colour on the selection colour.
    pub fn on_selection(&self) -> Color {
        if self.style == Style::Classic {
            [255, 255, 255]
        } else {
            self.text
        }
    }
}
