//! A bounded load test of `reticle serve`: N concurrent clients post `/v1/ground` for a
//! fixed time and the run reports latency percentiles, answers by kind (200, intended 503,
//! anything else is an error) and the server's memory over time.
//!
//! ```sh
//! cargo run -p reticle-agents --example serve_load -- --url http://127.0.0.1:8080 \
//!     --image screen.png --instruction "click Save" --clients 32 --duration-s 30 --pid PID
//! ```
//!
//! `scripts/serve_load.sh` starts the server and runs this. With `--pid` (the server's
//! process id, same machine) it samples the server's resident memory (`/proc/PID/status`)
//! every `--sample-s` seconds and reports the peak (`VmHWM`) and the drift after warm-up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine as _;
use clap::Parser;
use serde_json::json;

#[derive(Debug, Parser)]
struct Args {
    /// Service base URL.
    #[arg(long)]
    url: String,
    /// Bearer token, if the service has one.
    #[arg(long, env = "RETICLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Image to ground (PNG or JPEG).
    #[arg(long)]
    image: PathBuf,
    #[arg(long)]
    instruction: String,
    /// Concurrent clients (one thread and connection each).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 30)]
    duration_s: u64,
    /// Honour `Retry-After` after a 503 (a well-behaved controller); off: retry at once.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    honour_retry_after: bool,
    /// The server's process id, to sample its memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 1.0)]
    sample_s: f64,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct Tally {
    /// Latencies of 200 answers, seconds.
    ok: Vec<f64>,
    /// Latencies of 503 answers, seconds.
    shed: Vec<f64>,
    /// Everything else: other statuses and transport errors.
    errors: Vec<String>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn client(args: &Args, body: &str, stop: &AtomicBool, tally: &Mutex<Tally>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let url = format!("{}/v1/ground", args.url.trim_end_matches('/'));
    while !stop.load(Ordering::Relaxed) {
        let mut req = agent.post(&url).header("Content-Type", "application/json");
        if let Some(t) = &args.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let t0 = Instant::now();
        let result = req.send(body).and_then(|mut r| {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let text = r.body_mut().read_to_string()?;
            Ok((status, retry, text))
        });
        let dt = t0.elapsed().as_secs_f64();
        let mut backoff = None;
        {
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok((200, _, text)) if text.contains("\"point\":[") => t.ok.push(dt),
                Ok((200, _, text)) => t.errors.push(format!("200 without a point: {text}")),
                Ok((503, retry, _)) => {
                    t.shed.push(dt);
                    backoff = Some(retry.unwrap_or(1));
                }
                Ok((status, _, text)) => t.errors.push(format!("{status}: {text}")),
                Err(e) => t.errors.push(format!("transport: {e}")),
            }
        }
        if let (Some(s), true) = (backoff, args.honour_retry_after) {
            std::thread::sleep(Duration::from_secs(s));
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let image =
        std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let body = json!({
        "image": base64::engine::general_purpose::STANDARD.encode(image),
        "instruction": args.instruction,
    })
    .to_string();
    let stop = AtomicBool::new(false);
    let tally = Mutex::new(Tally::default());
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut hwm = 0;
    let before = args.pid.and_then(memory_kib);
    let t0 = Instant::now();
    let duration = Duration::from_secs(args.duration_s);
    std::thread::scope(|s| {
        for _ in 0..args.clients {
            s.spawn(|| client(&args, &body, &stop, &tally));
        }
        while t0.elapsed() < duration {
            std::thread::sleep(Duration::from_secs_f64(args.sample_s).min(duration));
            if let Some((rss, peak)) = args.pid.and_then(memory_kib) {
                samples.push((t0.elapsed().as_secs_f64(), rss));
                hwm = hwm.max(peak);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let wall = t0.elapsed().as_secs_f64();
    let mut t = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    t.ok.sort_by(f64::total_cmp);
    t.shed.sort_by(f64::total_cmp);
    let ms = |s: f64| (s * 1e4).round() / 10.0;
    // Memory drift: the mean of the last quarter of the samples against the mean of the
    // second quarter (after warm-up: the first requests allocate the workers' buffers).
    let quarter = samples.len() / 4;
    let mean = |xs: &[(f64, u64)]| xs.iter().map(|x| x.1 as f64).sum::<f64>() / xs.len() as f64;
    let drift = (quarter >= 1).then(|| {
        let warm = mean(&samples[quarter..2 * quarter]);
        let end = mean(&samples[samples.len() - quarter..]);
        (warm / 1024.0, end / 1024.0)
    });
    let mut first_errors = t.errors.clone();
    first_errors.truncate(5);
    let report = json!({
        "clients": args.clients,
        "duration_s": wall,
        "requests": t.ok.len() + t.shed.len() + t.errors.len(),
        "ok": t.ok.len(),
        "intended_503": t.shed.len(),
        "errors": t.errors.len(),
        "first_errors": first_errors,
        "throughput_ok_per_s": t.ok.len() as f64 / wall,
        "latency_ms": {
            "p50": ms(percentile(&t.ok, 0.50)),
            "p90": ms(percentile(&t.ok, 0.90)),
            "p99": ms(percentile(&t.ok, 0.99)),
            "max": ms(t.ok.last().copied().unwrap_or(f64::NAN)),
        },
        "latency_503_ms": { "p50": ms(percentile(&t.shed, 0.50)), "p99": ms(percentile(&t.shed, 0.99)) },
        "server_memory_mib": {
            "rss_before": before.map(|m| m.0 as f64 / 1024.0),
            "peak_rss": (hwm > 0).then(|| hwm as f64 / 1024.0),
            "rss_end": samples.last().map(|s| s.1 as f64 / 1024.0),
            "rss_after_warmup_mean": drift.map(|d| d.0),
            "rss_last_quarter_mean": drift.map(|d| d.1),
            "samples": samples.len(),
            "rss_series": samples.iter().map(|(t, kib)| [(t * 10.0).round() / 10.0, (*kib as f64 / 1024.0).round()]).collect::<Vec<_>>(),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if !t.errors.is_empty() {
        anyhow::bail!("{} requests failed (not 200 and not 503)", t.errors.len());
    }
    Ok(())
}
