//! Helpers of the desktop tests: a private Xvfb, RandR monitors and Xft.dpi set through
//! x11rb, the test application, `reticle` pointed at the display, the fixture's records.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use reticle_models::dataset::{Record, Target};
use reticle_models::geometry::BBox;
use x11rb::connection::Connection as _;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{self, AtomEnum, ConnectionExt as _, PropMode};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

pub use crate::support::{fixture, stderr, training_data};

pub fn target_box(r: &Record) -> BBox {
    match &r.target {
        Target::Box(b) => *b,
        other => panic!("{}: ui target is not a box: {other:?}", r.id),
    }
}

/// The element name the app reports for a record's target.
pub fn element_name(r: &Record) -> String {
    r.meta.as_ref().unwrap()["element"]
        .as_str()
        .unwrap()
        .to_string()
        + ":"
        + r.meta.as_ref().unwrap()["label"].as_str().unwrap_or("")
}

/// A private Xvfb (display number chosen by Xvfb itself with `-displayfd`), killed on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
    pub conn: RustConnection,
    pub root: xproto::Window,
}

impl Xvfb {
    /// Starts a private Xvfb of `w`×`h` (see `support::start_xvfb`) and connects to it.
    pub fn start(w: u32, h: u32) -> Xvfb {
        let (child, display) = crate::support::start_xvfb(w, h);
        let (conn, screen) = x11rb::connect(Some(&display)).unwrap();
        let root = conn.setup().roots[screen].root;
        Xvfb {
            child,
            display,
            conn,
            root,
        }
    }

    /// Replaces the RandR monitors: `(name, x, y, w, h, with_output)`. xcap lists only
    /// monitors that have an output, and Xvfb has one output (`screen`).
    pub fn set_monitors(&self, monitors: &[(&str, i16, i16, u16, u16, bool)]) {
        let c = &self.conn;
        let output = c
            .randr_get_screen_resources(self.root)
            .unwrap()
            .reply()
            .unwrap()
            .outputs[0];
        for &(name, x, y, w, h, with_output) in monitors {
            let atom = c
                .intern_atom(false, name.as_bytes())
                .unwrap()
                .reply()
                .unwrap()
                .atom;
            c.randr_set_monitor(
                self.root,
                randr::MonitorInfo {
                    name: atom,
                    primary: false,
                    automatic: false,
                    x,
                    y,
                    width: w,
                    height: h,
                    width_in_millimeters: u32::from(w) / 4,
                    height_in_millimeters: u32::from(h) / 4,
                    outputs: if with_output { vec![output] } else { vec![] },
                },
            )
            .unwrap();
        }
        c.sync().unwrap();
        let got = c
            .randr_get_monitors(self.root, true)
            .unwrap()
            .reply()
            .unwrap();
        assert_eq!(got.monitors.len(), monitors.len(), "{got:?}");
    }

    /// Sets `Xft.dpi` in the root window's RESOURCE_MANAGER (what `xrdb -merge` does): xcap
    /// reports the scale factor `dpi / 96`.
    pub fn set_dpi(&self, dpi: u32) {
        let value = format!("Xft.dpi:\t{dpi}\n");
        self.conn
            .change_property8(
                PropMode::REPLACE,
                self.root,
                AtomEnum::RESOURCE_MANAGER,
                AtomEnum::STRING,
                value.as_bytes(),
            )
            .unwrap();
        self.conn.sync().unwrap();
    }

    pub fn warp_pointer(&self, x: i16, y: i16) {
        self.conn
            .warp_pointer(x11rb::NONE, self.root, 0, 0, 0, 0, x, y)
            .unwrap();
        self.conn.sync().unwrap();
    }

    pub fn pointer(&self) -> (i16, i16) {
        let r = self.conn.query_pointer(self.root).unwrap().reply().unwrap();
        (r.root_x, r.root_y)
    }

    /// `reticle` on this display, logging at info (the action log goes to stderr).
    pub fn reticle(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reticle"));
        cmd.env("DISPLAY", &self.display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("XDG_SESSION_TYPE")
            .env_remove("RETICLE_MODEL")
            .env("RUST_LOG", "info,ort=error")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `reticle desktop args…` with the fixture model on the CPU.
    pub fn desktop(&self, args: &[&str]) -> Output {
        let model = fixture();
        let mut cmd = self.reticle();
        cmd.arg("desktop").args(args);
        if matches!(args.first(), Some(&"do") | Some(&"run")) {
            cmd.args(["--model", model.to_str().unwrap(), "--provider", "cpu"]);
        }
        cmd.output().unwrap()
    }

    /// Starts the test application.
    pub fn app(&self, dir: &Path, x: i16, y: i16, screens: &[&Record], advance: bool) -> App {
        let config = serde_json::json!({
            "x": x,
            "y": y,
            "advance_on_click": advance,
            "screens": screens.iter().map(|r| {
                let b = target_box(r);
                serde_json::json!({
                    "image": r.image,
                    "elements": [{"name": element_name(r), "box": [b.x1, b.y1, b.x2, b.y2]}],
                })
            }).collect::<Vec<_>>(),
        });
        let path = dir.join(format!("app-{x}-{y}.json"));
        std::fs::write(&path, config.to_string()).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("x11-app")
            .arg(&path)
            .env("DISPLAY", &self.display)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut app = App { child, events: rx };
        let ready = app
            .next(Duration::from_secs(20))
            .expect("the app never got ready");
        assert_eq!(ready["event"], "ready", "{ready}");
        app
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The running test application and its event lines.
pub struct App {
    child: Child,
    events: Receiver<serde_json::Value>,
}

impl App {
    pub fn next(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Every event that arrives within `quiet` of the previous one.
    pub fn drain(&mut self, quiet: Duration) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while let Some(v) = self.next(quiet) {
            out.push(v);
        }
        out
    }

    pub fn clicks(&mut self, quiet: Duration) -> Vec<serde_json::Value> {
        self.drain(quiet)
            .into_iter()
            .filter(|e| e["event"] == "click")
            .collect()
    }

    /// Waits (up to 30 s) for `n` events of which `n_clicks` are clicks, then for
    /// stragglers; returns every event.
    pub fn expect(&mut self, n_clicks: usize, quiet: Duration) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(30);
        while out
            .iter()
            .filter(|e: &&serde_json::Value| e["event"] == "click")
            .count()
            < n_clicks
        {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            match self.next(left) {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out.extend(self.drain(quiet));
        out
    }

    /// Waits up to `timeout` for the next click.
    pub fn wait_click(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let end = Instant::now() + timeout;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(e) if e["event"] == "click" => return Some(e),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON step reports `reticle desktop` printed, asserting it succeeded.
pub fn reports(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "reticle desktop failed ({}): {}",
        out.status,
        stderr(out)
    );
    step_lines(out)
}

/// The JSON step reports on stdout, whatever the exit status.
pub fn step_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Asserts that a command failed and that stderr says `want`.
pub fn assert_refused(out: &Output, want: &str) {
    assert!(!out.status.success(), "expected a refusal: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(want), "stderr lacks {want:?}:\n{err}");
}
