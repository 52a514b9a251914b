//! `reticle serve`: the grounding service (see `reticle_agents::serve` and docs/serve.md).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use reticle_agents::serve::{self, ServeConfig};
use reticle_runtime::{LoadOptions, Pipeline, Provider};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model package folder (model.json, the ONNX graphs, tokenizer.json). Default: the
    /// shipped package — $RETICLE_MODEL, ./models/default, or the build checkout's models/default.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Address to listen on. Anything but a loopback address needs a token.
    #[arg(long, default_value = "127.0.0.1")]
    addr: IpAddr,
    /// Port to listen on; 0 picks a free one. The first line on stdout is
    /// `listening on http://ADDR:PORT`.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Model runs at once (the package is loaded with this many workers; at most 64).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Requests that may wait for a worker; beyond that the answer is 503 with Retry-After.
    #[arg(long, default_value_t = 16)]
    queue: usize,
    /// Intra-op threads per worker (default: ONNX Runtime's choice, all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Largest request body in bytes (413 above it). Base64 makes images 4/3 larger.
    #[arg(long, default_value_t = 32 << 20)]
    max_body_bytes: usize,
    /// Largest image in pixels (width × height), checked before decoding (422 above it).
    #[arg(long, default_value_t = 25_000_000)]
    max_pixels: u64,
    /// Deadline of a request in milliseconds: upload, queue wait and model run (504 after).
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Seconds sent in Retry-After with 503.
    #[arg(long, default_value_t = 1)]
    retry_after: u32,
    /// Open connections at most (idle ones included); one more is answered 503 and closed.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Milliseconds a connection has to send a complete request head, idle keep-alive
    /// connections included; then it is closed.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Bearer token required by /v1/* and /metrics (at least 16 characters). Prefer the
    /// environment variable: command lines are visible to other users.
    #[arg(long, env = "RETICLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
}

impl ServeArgs {
    /// The checked service settings (before anything is loaded or bound).
    fn config(&self) -> anyhow::Result<ServeConfig> {
        let cfg = ServeConfig {
            addr: SocketAddr::new(self.addr, self.port),
            token: self.token.clone().filter(|t| !t.is_empty()),
            workers: self.workers,
            queue: self.queue,
            max_body_bytes: self.max_body_bytes,
            max_pixels: self.max_pixels,
            timeout: Duration::from_millis(self.timeout_ms),
            retry_after_s: self.retry_after,
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_millis(self.header_timeout_ms),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

pub fn run(a: &ServeArgs) -> anyhow::Result<()> {
    let config = a.config()?;
    let provider: Provider = a.provider.parse()?;
    let model = reticle_agents::defaults::model_dir(a.model.as_deref())?;
    let grounder = Pipeline::load_with(
        &model,
        &LoadOptions {
            provider,
            workers: a.workers,
            intra_threads: a.threads,
        },
    )
    .with_context(|| format!("loading model package {}", model.display()))?;
    let grounder = Arc::new(grounder);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("reticle-serve")
        .build()
        .context("starting the tokio runtime")?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("listening on {}", config.addr))?;
        let bound = listener.local_addr().context("reading the bound address")?;
        // The first line of stdout: tests and scripts read the port from it.
        outln!("listening on http://{bound}");
        tracing::info!(
            addr = %bound,
            model = %grounder.manifest().name,
            provider = %grounder.provider(),
            workers = config.workers,
            queue = config.queue,
            auth = config.token.is_some(),
            "serving"
        );
        serve::serve(listener, grounder, config, serve::shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    });
    // Model runs abandoned by their requests (deadline passed) finish on the blocking pool;
    // do not wait for them forever.
    runtime.shutdown_timeout(Duration::from_secs(10));
    result
}
