//! The grounding service behind `reticle serve`: HTTP/JSON on tokio + axum for robot
//! controllers and scripts.
//!
//! ```text
//! request ─► metrics (every answer counted) ─► router ─► /v1/*: token (401) ─► admission:
//!   Content-Length > limit (413) · no ticket left (503 + Retry-After) · deadline (504)
//!   ─► handler: JSON (400) ─► values (422) ─► wait for a worker ─► blocking pool: decode,
//!   ground / refer ─► 200 JSON
//! ```
//!
//! One [`Grounder`] (loaded once, `workers` sessions) serves every request. Routes and
//! their guards are one table (`routes::routes`), checked against the hand-written
//! `openapi.json`. Errors are `{"error": {"code", "message"}}` (see `api::ApiError`).

mod api;
mod auth;
mod config;
pub mod error;
mod limits;
mod listen;
mod metrics;
mod openapi;
mod routes;
mod shed;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use reticle_runtime::Pipeline;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::{OnFailure, TraceLayer};

pub use config::{ServeConfig, MIN_TOKEN_LEN};
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub use routes::PATHS;

use api::ApiError;
pub use error::{Error, Result};
use limits::Admission;
use metrics::Metrics;

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    grounder: Arc<Pipeline>,
    config: Arc<ServeConfig>,
    metrics: Arc<Metrics>,
    admission: Arc<Admission>,
}

/// The service's router for `grounder` (loaded with `config.workers` workers).
pub fn router(grounder: Arc<Pipeline>, config: ServeConfig) -> Router {
    router_with(grounder, config, Arc::new(Metrics::default()))
}

fn router_with(grounder: Arc<Pipeline>, config: ServeConfig, metrics: Arc<Metrics>) -> Router {
    let state = AppState {
        admission: Arc::new(Admission::new(config.workers, config.queue)),
        grounder,
        metrics,
        config: Arc::new(config),
    };
    let guard = |r, g| routes::apply_guard(&state, r, g);
    let app = routes::routes(&guard)
        .into_iter()
        .fold(Router::new(), |app, (_, path, r)| app.route(path, r));
    app.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http().on_failure(FailureLog::default()))
        .with_state(state)
}

/// How tower-http's failure classifier (every 5xx) is logged: load shedding (503) is the
/// service doing its job, so it is a WARN at most once per [`SHED_LOG_INTERVAL`] with a
/// count (`reticle_queue_rejections_total` in `/metrics` has the exact number); every other
/// server error stays an ERROR.
#[derive(Debug, Clone)]
struct FailureLog {
    shed: Arc<shed::RateLimitedWarn>,
}

/// At most one line about shed requests per this interval.
const SHED_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for FailureLog {
    fn default() -> Self {
        Self {
            shed: Arc::new(shed::RateLimitedWarn::new(SHED_LOG_INTERVAL)),
        }
    }
}

impl OnFailure<ServerErrorsFailureClass> for FailureLog {
    fn on_failure(
        &mut self,
        class: ServerErrorsFailureClass,
        latency: std::time::Duration,
        _span: &tracing::Span,
    ) {
        match class {
            ServerErrorsFailureClass::StatusCode(axum::http::StatusCode::SERVICE_UNAVAILABLE) => {
                self.shed
                    .warn("saturated: answering 503 with Retry-After (load shedding)");
            }
            other => tracing::error!(
                classification = %other,
                latency_ms = latency.as_millis(),
                "response failed"
            ),
        }
    }
}

async fn not_found() -> impl IntoResponse {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /openapi.json",
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method; see /openapi.json",
    )
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting connections and
/// waits for the requests in flight to be answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    grounder: Arc<Pipeline>,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    config.validate()?;
    if grounder.workers() < config.workers {
        return Err(Error::Config(format!(
            "the package was loaded with {} workers but the service admits {} concurrent runs",
            grounder.workers(),
            config.workers
        )));
    }
    let limits = listen::ConnectionLimits {
        max_connections: config.max_connections,
        header_read_timeout: config.header_read_timeout,
        retry_after_s: config.retry_after_s,
    };
    let metrics = Arc::new(Metrics::default());
    let app = router_with(grounder, config, metrics.clone());
    listen::serve_connections(listener, app, limits, metrics, shutdown).await;
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: finishing requests in flight, then stopping"),
        () = term => tracing::info!("SIGTERM: finishing requests in flight, then stopping"),
    }
}
