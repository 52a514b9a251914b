//! The X11 test application: a borderless window at a given position showing `ui` suite
//! screens, which prints every click and key as a JSON line on stdout.
//!
//! It runs as `<desktop test binary> x11-app CONFIG.json` (the test binary is its own
//! helper: `harness = false`, see `main.rs`), with `DISPLAY` set. The config:
//!
//! ```json
//! {"x": 1280, "y": 300, "advance_on_click": true,
//!  "screens": [{"image": "/tmp/…/ui-000003.png",
//!               "elements": [{"name": "Start at login", "box": [509, 125, 533, 149]}]}]}
//! ```
//!
//! Output lines: `{"event":"ready","screen":0}` once the first screen is on the display,
//! `{"event":"click","button":1,"x":..,"y":..,"root_x":..,"root_y":..,"screen":0,"hit":"…"}`
//! for every button press (`x`, `y` in window = image pixels; `hit` is the first element whose
//! box contains the point, or null), `{"event":"shown","screen":1}` after advancing, and
//! `{"event":"key","text":"a"}` for every key press with a printable keysym.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;

use serde::Deserialize;
use x11rb::connection::{Connection, RequestConnection as _};
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, ImageFormat, InputFocus,
    WindowClass,
};
use x11rb::protocol::Event;

#[derive(Debug, Deserialize)]
pub struct AppConfig {
    pub x: i16,
    pub y: i16,
    #[serde(default)]
    pub advance_on_click: bool,
    pub screens: Vec<ScreenSpec>,
}

#[derive(Debug, Deserialize)]
pub struct ScreenSpec {
    pub image: PathBuf,
    pub elements: Vec<Element>,
}

#[derive(Debug, Deserialize)]
pub struct Element {
    pub name: String,
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
}

fn emit(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}").unwrap();
    out.flush().unwrap();
}

/// The screens as 32-bit BGRX rows, the layout of a depth-24 ZPixmap on little-endian X.
fn load(screens: &[ScreenSpec]) -> Vec<(u32, u32, Vec<u8>)> {
    screens
        .iter()
        .map(|s| {
            let img = image::open(&s.image).unwrap().to_rgba8();
            let mut data = Vec::with_capacity(img.as_raw().len());
            for p in img.pixels() {
                data.extend_from_slice(&[p[2], p[1], p[0], 0]);
            }
            (img.width(), img.height(), data)
        })
        .collect()
}

pub fn main(args: &[String]) -> std::process::ExitCode {
    let config: AppConfig =
        serde_json::from_str(&std::fs::read_to_string(&args[0]).unwrap()).unwrap();
    let pixels = load(&config.screens);
    let (w, h) = (pixels[0].0, pixels[0].1);
    assert!(
        pixels.iter().all(|p| (p.0, p.1) == (w, h)),
        "all screens of one app must have the same size"
    );

    let (conn, screen_num) = x11rb::connect(None).unwrap();
    let screen = &conn.setup().roots[screen_num];
    assert_eq!(
        screen.root_depth, 24,
        "the test app expects a depth-24 screen"
    );
    let win = conn.generate_id().unwrap();
    conn.create_window(
        screen.root_depth,
        win,
        screen.root,
        config.x,
        config.y,
        w as u16,
        h as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new()
            .override_redirect(1)
            .background_pixel(screen.black_pixel)
            .event_mask(
                EventMask::EXPOSURE
                    | EventMask::BUTTON_PRESS
                    | EventMask::KEY_PRESS
                    | EventMask::STRUCTURE_NOTIFY,
            ),
    )
    .unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, win, &CreateGCAux::new()).unwrap();
    conn.map_window(win).unwrap();
    conn.flush().unwrap();

    // Rows per PutImage request, below the server's maximum request length.
    let max_bytes = conn.maximum_request_bytes().saturating_sub(64);
    let rows_per_put = (max_bytes / (w as usize * 4)).max(1);
    let draw = |idx: usize| {
        let (_, _, data) = &pixels[idx];
        let mut y = 0usize;
        while y < h as usize {
            let n = rows_per_put.min(h as usize - y);
            let chunk = &data[y * w as usize * 4..(y + n) * w as usize * 4];
            conn.put_image(
                ImageFormat::Z_PIXMAP,
                win,
                gc,
                w as u16,
                n as u16,
                0,
                y as i16,
                0,
                24,
                chunk,
            )
            .unwrap();
            y += n;
        }
        // A round trip: the pixels are on the server before we say so.
        conn.get_input_focus().unwrap().reply().unwrap();
    };

    let mut current = 0usize;
    let mut ready = false;
    let mut keysyms: HashMap<u8, u32> = HashMap::new();
    loop {
        let event = match conn.wait_for_event() {
            Ok(e) => e,
            Err(_) => return std::process::ExitCode::SUCCESS,
        };
        match event {
            Event::Expose(e) if e.count == 0 => {
                draw(current);
                if !ready {
                    ready = true;
                    emit(serde_json::json!({"event": "ready", "screen": current}));
                }
            }
            Event::ButtonPress(e) => {
                let (x, y) = (f64::from(e.event_x), f64::from(e.event_y));
                let hit = config.screens[current]
                    .elements
                    .iter()
                    .find(|el| {
                        let b = el.bbox;
                        x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]
                    })
                    .map(|el| el.name.clone());
                emit(serde_json::json!({
                    "event": "click",
                    "button": e.detail,
                    "x": e.event_x,
                    "y": e.event_y,
                    "root_x": e.root_x,
                    "root_y": e.root_y,
                    "screen": current,
                    "hit": hit,
                }));
                // Like a real application: a click gives the window the keyboard focus.
                conn.set_input_focus(InputFocus::PARENT, win, e.time)
                    .unwrap();
                conn.flush().unwrap();
                if config.advance_on_click && current + 1 < pixels.len() {
                    current += 1;
                    draw(current);
                    emit(serde_json::json!({"event": "shown", "screen": current}));
                }
            }
            Event::KeyPress(e) => {
                // enigo binds each character to a spare keycode while it types; look the
                // keysym up now, and remember it in case the binding is already gone.
                let reply = conn
                    .get_keyboard_mapping(e.detail, 1)
                    .unwrap()
                    .reply()
                    .unwrap();
                let sym = reply.keysyms.first().copied().unwrap_or(0);
                if sym != 0 {
                    keysyms.insert(e.detail, sym);
                }
                let sym = keysyms.get(&e.detail).copied().unwrap_or(0);
                if let Some(c) = char::from_u32(sym).filter(|c| (' '..='~').contains(c)) {
                    emit(serde_json::json!({"event": "key", "text": c.to_string()}));
                } else {
                    emit(serde_json::json!({"event": "key", "keysym": sym}));
                }
            }
            _ => {}
        }
    }
}
