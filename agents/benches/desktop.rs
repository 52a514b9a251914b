//! Desktop agent latency: capture (xcap), ground (ONNX Runtime) and act (enigo move +
//! click) on 1280×800 and 1920×1080 Xvfb screens showing `ui` suite screens, p50/p95.
//!
//! ```text
//! cargo bench -p reticle-agents --bench desktop            # release build
//! RETICLE_BENCH_MODEL=path/to/package RETICLE_BENCH_ITERS=50 cargo bench …
//! ```
//!
//! The model defaults to the committed fixture package (`tests/fixtures/micro-ui`, a 0.1 M
//! parameter model: its ground time is the runtime's floor, not a real model's). Each screen
//! size runs in a child process of this binary with its own Xvfb (`DISPLAY` is read by xcap
//! and enigo at start); the same binary is also the X11 app that shows the screen
//! (`tests/desktop/app.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/desktop/app.rs"]
mod app;
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use reticle_agents::desktop::act::{Action, EnigoInput, Input as _};
use reticle_agents::desktop::monitor;
use reticle_models::grammar::Value;
use reticle_models::preprocess::{PixelFormat, PixelsRef};
use reticle_runtime::{DecodeOptions, Grounder, ImageInput, Provider};

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i]
}

fn model() -> PathBuf {
    std::env::var_os("RETICLE_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(support::fixture)
}

/// In the child: measure on `DISPLAY`, print one table row per phase.
fn child(size: &str, iters: usize, instruction: &str) {
    let grounder = Grounder::load(&model(), Provider::Cpu).unwrap();
    let mons = monitor::list().unwrap();
    let mon = monitor::choose(&mons, Some(0), None).unwrap();
    let mut input = EnigoInput::new().unwrap();
    let (mut cap, mut gr, mut pre, mut act) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..iters + 2 {
        let t = Instant::now();
        let img = monitor::capture(&mon).unwrap();
        let c = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let px =
            PixelsRef::new(img.width(), img.height(), PixelFormat::Rgba8, img.as_raw()).unwrap();
        let out = grounder
            .ground_with(
                ImageInput::Pixels(px),
                None,
                instruction,
                &DecodeOptions::greedy(),
            )
            .unwrap();
        let g = t.elapsed().as_secs_f64() * 1e3;
        let pp = out.timings.preprocess.as_secs_f64() * 1e3;
        let p = out
            .answer
            .ok()
            .and_then(|v: Value| v.first_point())
            .unwrap();
        let target = mon.screen_map((img.width(), img.height())).map(p).input;
        let t = Instant::now();
        input.act(Action::Click, target).unwrap();
        let a = t.elapsed().as_secs_f64() * 1e3;
        // The first two rounds warm up (ORT sessions, X connections).
        if i >= 2 {
            cap.push(c);
            gr.push(g);
            pre.push(pp);
            act.push(a);
        }
    }
    let phases = [
        ("capture", &mut cap),
        ("ground (all)", &mut gr),
        ("ground: preprocess", &mut pre),
        ("act (move + click)", &mut act),
    ];
    for (name, v) in phases {
        let (p50, p95) = (percentile(v, 0.5), percentile(v, 0.95));
        println!("| {size} | {name} | {p50:.2} | {p95:.2} |");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("x11-app") {
        app::main(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1], args[2].parse().unwrap(), &args[3]);
        return;
    }
    let iters: usize = std::env::var("RETICLE_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let support::SuiteData { dir: data, records } = support::training_data();
    let exe = std::env::current_exe().unwrap();
    println!(
        "model: {}; {iters} iterations after 2 warm-up rounds; times in ms",
        model().display()
    );
    println!("\n| screen | phase | p50 | p95 |\n|---|---|---|---|");
    for (w, h) in [(1280u32, 800u32), (1920, 1080)] {
        let r = records
            .iter()
            .find(|r| image::image_dimensions(&r.image).unwrap() == (w, h))
            .unwrap();
        let (mut xvfb, display) = support::start_xvfb(w, h);
        let config = data.path().join(format!("app-{w}.json"));
        let cfg = serde_json::json!({"x": 0, "y": 0, "screens": [
            {"image": r.image, "elements": []}]});
        std::fs::write(&config, cfg.to_string()).unwrap();
        let mut app = Command::new(&exe)
            .arg("x11-app")
            .arg(&config)
            .env("DISPLAY", &display)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the app's "ready" line; later lines (clicks) go to a drain thread.
        let mut app_out = app.stdout.take().unwrap();
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while app_out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        std::thread::spawn(move || std::io::copy(&mut app_out, &mut std::io::sink()));
        let status = Command::new(&exe)
            .args([
                "child",
                &format!("{w}x{h}"),
                &iters.to_string(),
                &r.instruction,
            ])
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("XDG_SESSION_TYPE")
            .status()
            .unwrap();
        assert!(status.success());
        let _ = app.kill();
        let _ = app.wait();
        let _ = xvfb.kill();
        let _ = xvfb.wait();
    }
}
