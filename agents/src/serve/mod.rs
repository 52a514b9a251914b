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
mod limits;
mod metrics;
mod openapi;
mod routes;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use axum::Router;
use reticle_runtime::Pipeline;
use tower_http::trace::TraceLayer;

pub use config::{ServeConfig, MIN_TOKEN_LEN};
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub use routes::PATHS;

use crate::error::{Error, Result};
use api::ApiError;
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
    let state = AppState {
        admission: Arc::new(Admission::new(config.workers, config.queue)),
        grounder,
        metrics: Arc::new(Metrics::default()),
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
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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
        return Err(Error::Serve(format!(
            "the package was loaded with {} workers but the service admits {} concurrent runs",
            grounder.workers(),
            config.workers
        )));
    }
    let app = router(grounder, config);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Serve(format!("serving: {e}")))
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
