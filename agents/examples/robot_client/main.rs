//! A robot controller's client of `reticle serve`: send an RGB-D frame, a camera and an
//! instruction to `/v1/refer` (or just an image to `/v1/ground`) and print the target.
//!
//! ```sh
//! reticle serve --model PACKAGE &             # prints: listening on http://127.0.0.1:8080
//! cargo run -p reticle-agents --example robot_client -- \
//!     --rgb frame.png --depth depth.png --camera camera.toml --instruction "the red mug"
//! ```
//!
//! It is blocking (`ureq`), retries a 503 after the server's `Retry-After`, gives up on
//! other errors with the server's message, and reads the token from `RETICLE_TOKEN`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;
use clap::Parser;
use serde_json::{json, Value};

/// Ask a reticle service for a robot target (or a 2-D point without --depth).
#[derive(Debug, Parser)]
struct Args {
    /// Service base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token, if the service has one.
    #[arg(long, env = "RETICLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// RGB frame (PNG or JPEG).
    #[arg(long)]
    rgb: PathBuf,
    /// Aligned 16-bit depth PNG: ask /v1/refer for a 3-D target (needs --camera).
    #[arg(long, requires = "camera")]
    depth: Option<PathBuf>,
    /// Camera file, TOML or JSON (the `reticle robot` format).
    #[arg(long)]
    camera: Option<PathBuf>,
    /// What to find.
    #[arg(long)]
    instruction: String,
    /// How many times to retry when the service is busy (503).
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
}

/// A blocking client of one service.
struct Client {
    agent: ureq::Agent,
    url: String,
    token: Option<String>,
    retries: u32,
}

impl Client {
    fn new(args: &Args) -> Self {
        let agent = ureq::Agent::config_builder()
            // Error statuses are answers with a JSON body, not transport failures.
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(args.timeout_s)))
            .build()
            .into();
        Self {
            agent,
            url: args.url.trim_end_matches('/').to_string(),
            token: args.token.clone(),
            retries: args.retries,
        }
    }

    /// POSTs `body` to `path`; retries 503 after `Retry-After`; other errors become the
    /// server's `{"error": {"code", "message"}}`.
    fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let body = body.to_string();
        for attempt in 0..=self.retries {
            let mut req = self.agent.post(format!("{}{path}", self.url));
            if let Some(t) = &self.token {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            let mut res = req
                .header("Content-Type", "application/json")
                .send(&body)
                .with_context(|| format!("POST {}{path}", self.url))?;
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let reply: Value = res
                .body_mut()
                .read_json()
                .with_context(|| format!("reading the {status} answer of {path}"))?;
            match status {
                200 => return Ok(reply),
                503 if attempt < self.retries => {
                    let wait = retry_after.unwrap_or(1);
                    eprintln!("service busy; retrying in {wait} s");
                    std::thread::sleep(Duration::from_secs(wait));
                }
                _ => bail!(
                    "{path}: {status} {}: {}",
                    reply["error"]["code"].as_str().unwrap_or("?"),
                    reply["error"]["message"].as_str().unwrap_or("")
                ),
            }
        }
        bail!("{path}: still busy after {} retries", self.retries)
    }
}

fn b64_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A camera file as the JSON object the service takes.
fn camera_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    } else {
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::new(&args);
    let rgb = b64_file(&args.rgb)?;
    match (&args.depth, &args.camera) {
        (Some(depth), Some(camera)) => {
            let target = client.post(
                "/v1/refer",
                &json!({
                    "rgb": rgb,
                    "depth": b64_file(depth)?,
                    "camera": camera_json(camera)?,
                    "instruction": args.instruction,
                }),
            )?;
            let xyz = &target["xyz_m"];
            println!(
                "target in `{}`: x {} y {} z {} m (pixel {}, depth {} m)",
                target["frame_id"].as_str().unwrap_or("?"),
                xyz[0],
                xyz[1],
                xyz[2],
                target["pixel"],
                target["depth_m"]
            );
            println!("{}", serde_json::to_string_pretty(&target)?);
        }
        _ => {
            let out = client.post(
                "/v1/ground",
                &json!({ "image": rgb, "instruction": args.instruction }),
            )?;
            match out["point"].as_array() {
                Some(p) => println!("point {} {}", p[0], p[1]),
                None => println!("no point; the model wrote {}", out["result"]["text"]),
            }
        }
    }
    Ok(())
}
