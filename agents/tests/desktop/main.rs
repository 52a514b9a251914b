//! `reticle desktop` end to end under Xvfb: a real X server, a real X11 application showing
//! the screens the fixture package memorised (`tests/fixtures/micro-ui`), xcap capture,
//! ONNX Runtime grounding, the mapping to desktop coordinates and enigo clicks through
//! XTEST. The application reports every click and which element it hit; the tests assert the
//! named element was hit — on a plain monitor, on a second monitor at an offset with scale
//! factor 2 (RandR monitors and Xft.dpi set by the test), at scale 1.25 — that `--dry-run`
//! draws the target and clicks nothing, and that the safety refusals click nothing.
//!
//! `harness = false`: this binary is also the X11 test application (`x11-app CONFIG`, see
//! `app.rs`), so the tests need no separately built helper. Tests run in parallel threads,
//! each on its own Xvfb (`-displayfd` picks a free display); arguments filter by name.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
#[path = "../support/mod.rs"]
mod support;
mod tests;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("x11-app") {
        return app::main(&args[1..]);
    }
    // Flags of the libtest harness (`--nocapture`, `--test-threads 2`, …) are accepted and
    // ignored; other arguments are name filters, as with libtest.
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--test-threads" || a == "--format" || a == "--color" {
            it.next();
        } else if a == "--list" {
            for (name, _) in tests::ALL {
                println!("{name}: test");
            }
            return ExitCode::SUCCESS;
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
    }
    let chosen: Vec<_> = tests::ALL
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let handles: Vec<_> = chosen
        .iter()
        .map(|&&(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let mut failed = Vec::new();
    for (name, h) in handles {
        match h.join() {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failures: {failed:?}");
        ExitCode::FAILURE
    }
}
