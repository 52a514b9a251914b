//! The accept loop: HTTP/1 connections served by hyper with a header-read timeout and a cap
//! on open connections, and a graceful shutdown.
//!
//! `axum::serve` sets no timer (so hyper's header-read timeout never runs) and accepts
//! without bound: an unauthenticated client could hold any number of idle or slow-header
//! connections. Here every connection must send a complete request head within
//! `header_read_timeout` (idle keep-alive connections included), and at most
//! `max_connections` are open; one more is answered 503 at once and closed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::metrics::Metrics;
use super::shed::RateLimitedWarn;

/// What the accept loop bounds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub retry_after_s: u32,
}

/// How long a refused connection gets to take its 503 before it is closed.
const REFUSAL_WRITE_TIME: Duration = Duration::from_millis(200);

/// Pause after a failed `accept` (out of file descriptors, say), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and waits for
/// the open connections to finish their requests.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let refusals = Arc::new(RateLimitedWarn::new(Duration::from_secs(10)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connection_refused();
            refusals.warn(&format!(
                "{} connections open (max_connections): refusing new ones with 503",
                limits.max_connections
            ));
            tokio::spawn(refuse(stream, limits.retry_after_s));
            continue;
        };
        let open = metrics.connection_opened();
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _held = (slot, open);
            if let Err(e) = conn.await {
                // Header-read timeouts, resets and half-sent requests: the client's doing.
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers 503 on a connection over the cap and closes it, without reading the request:
/// the write is tried for at most [`REFUSAL_WRITE_TIME`], so refusals hold nothing.
async fn refuse(mut stream: TcpStream, retry_after_s: u32) {
    let body =
        r#"{"error":{"code":"overloaded","message":"too many open connections; retry later"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {retry_after_s}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIME, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
