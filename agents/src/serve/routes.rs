//! The routes: one table ([`routes`]) that builds the router and that the OpenAPI test reads,
//! and the handlers.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json};
use image::DynamicImage;
use reticle_models::grammar::Value;
use reticle_models::preprocess::{decode_image, DepthRef};
use reticle_runtime::{Frame, GroundOptions, ImageInput, Pipeline};
use serde_json::json;

use super::api::{
    base64_field, check_instruction, check_options, from_agents_error, from_runtime_error,
    parse_json, ApiError, GroundRequest, ReferRequest,
};
use super::limits::{admit, Ticket};
use super::{auth, openapi, AppState};
use crate::robot::{self, CameraModel, ReferOptions};

pub const GROUND: &str = "/v1/ground";
pub const REFER: &str = "/v1/refer";
pub const HEALTHZ: &str = "/healthz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";

/// Every path the router serves (metric labels come from this list).
pub const PATHS: [&str; 5] = [GROUND, REFER, HEALTHZ, METRICS, OPENAPI];

/// What a route needs before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nothing: `/healthz`, `/openapi.json`.
    Open,
    /// The bearer token when one is configured.
    Token,
    /// The token, then admission (503 when full), the body limit and the deadline.
    TokenAndAdmission,
}

/// The router's routes: method, path and handler wrapped by `guard` (which adds the
/// middleware of [`Guard`]). The router is built from this table and only from it, so
/// checking the table against `openapi.json` checks the router.
pub fn routes(
    guard: &dyn Fn(MethodRouter<AppState>, Guard) -> MethodRouter<AppState>,
) -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (
            Method::POST,
            GROUND,
            guard(post(ground), Guard::TokenAndAdmission),
        ),
        (
            Method::POST,
            REFER,
            guard(post(refer), Guard::TokenAndAdmission),
        ),
        (Method::GET, HEALTHZ, guard(get(healthz), Guard::Open)),
        (Method::GET, METRICS, guard(get(metrics), Guard::Token)),
        (
            Method::GET,
            OPENAPI,
            guard(get(openapi::document), Guard::Open),
        ),
    ]
}

/// Adds `guard`'s middleware to a route. `route_layer` runs only for requests that matched
/// a method, so a wrong method is 405, never 401 or 503.
pub fn apply_guard(
    state: &AppState,
    r: MethodRouter<AppState>,
    guard: Guard,
) -> MethodRouter<AppState> {
    let token = || middleware::from_fn_with_state(state.clone(), auth::require_token);
    match guard {
        Guard::Open => r,
        Guard::Token => r.route_layer(token()),
        // Layers run outside in: the last added runs first.
        Guard::TokenAndAdmission => r
            .route_layer(middleware::from_fn_with_state(state.clone(), admit))
            .route_layer(token()),
    }
}

/// The body as bytes; a body over the limit is 413, a broken upload 400.
fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("reading the request body: {}", e.body_text()))
        }
    })
}

/// Refuses images above the service's pixel limit from their header, before decoding.
fn check_pixels(field: &str, bytes: &[u8], max_pixels: u64) -> Result<(), ApiError> {
    // The header is read under the decoder's metadata budget (`reticle_models::imageio`).
    let dims = reticle_models::imageio::dimensions(bytes, Path::new(field)).ok();
    let Some((w, h)) = dims else {
        return Err(ApiError::unprocessable(
            "invalid_image",
            format!("{field}: not a readable PNG or JPEG image"),
        ));
    };
    let n = u64::from(w) * u64::from(h);
    if n > max_pixels {
        return Err(ApiError::unprocessable(
            "image_too_large",
            format!("{field}: {w}x{h} = {n} pixels, above the service's limit of {max_pixels}"),
        ));
    }
    Ok(())
}

fn decode_field(field: &str, bytes: &[u8]) -> Result<DynamicImage, ApiError> {
    decode_image(bytes, Path::new(field))
        .map_err(|e| ApiError::unprocessable("invalid_image", e.to_string()))
}

/// Runs `work` on tokio's blocking pool once a worker is free. The ticket and the worker
/// permit live in the task, so they are held until the model run ends even when the request
/// is abandoned (deadline, client gone).
async fn run_blocking<T: Send + 'static>(
    state: &AppState,
    ticket: Ticket,
    work: impl FnOnce(&Pipeline) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = state.admission.worker().await?;
    let grounder = Arc::clone(&state.grounder);
    tokio::task::spawn_blocking(move || {
        let _held = (ticket, permit);
        work(&grounder)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "grounding task failed");
        ApiError::internal(format!("grounding task failed: {e}"))
    })?
}

/// `POST /v1/ground`: the answer in original image pixels, in the shape of
/// `reticle ground --json` (without the image path).
async fn ground(
    State(state): State<AppState>,
    Extension(ticket): Extension<Ticket>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: GroundRequest = parse_json(&body)?;
    drop(body);
    check_instruction(&req.instruction)?;
    check_options(&req.options)?;
    let bytes = base64_field("image", &req.image)?;
    check_pixels("image", &bytes, state.config.max_pixels)?;
    state
        .grounder
        .manifest()
        .check_depth_input(req.depth.is_some())
        .map_err(|e| ApiError::unprocessable("invalid_input", e.to_string()))?;
    let depth_bytes = match &req.depth {
        Some(d) => {
            let d = base64_field("depth", d)?;
            check_pixels("depth", &d, state.config.max_pixels)?;
            Some(d)
        }
        None => None,
    };
    let GroundRequest {
        instruction,
        options,
        depth_scale,
        spans,
        ..
    } = req;
    let out = run_blocking(&state, ticket, move |g| {
        let image = decode_field("image", &bytes)?;
        drop(bytes);
        let depth = depth_bytes
            .map(|d| robot::decode_depth_png(&d, "depth").map_err(|e| from_agents_error(&e)))
            .transpose()?;
        let depth_ref = depth
            .as_ref()
            .map(|d| DepthRef::new(d.width(), d.height(), d.as_raw(), depth_scale))
            .transpose()
            .map_err(|e| ApiError::unprocessable("invalid_input", e.to_string()))?;
        let frame = Frame {
            image: ImageInput::Image(&image),
            depth: depth_ref,
        };
        let options = GroundOptions {
            decode: options,
            spans,
        };
        let out = g
            .ground(frame, &instruction, &options)
            .map_err(|e| from_runtime_error(&e))?;
        Ok(json!({
            "size": [image.width(), image.height()],
            "instruction": instruction,
            "provider": g.provider().to_string(),
            "point": out.answer.as_ref().ok().and_then(Value::first_point).map(|p| [p.x, p.y]),
            "result": out,
        }))
    })
    .await?;
    Ok(Json(out).into_response())
}

/// `POST /v1/refer`: a 3-D target in the robot's base frame (`reticle robot`'s JSON).
async fn refer(
    State(state): State<AppState>,
    Extension(ticket): Extension<Ticket>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: ReferRequest = parse_json(&body)?;
    drop(body);
    check_instruction(&req.instruction)?;
    check_options(&req.options)?;
    let camera = CameraModel::from_json(req.camera)
        .map_err(|e| ApiError::unprocessable("invalid_camera", e.to_string()))?;
    let mut opts = ReferOptions {
        decode: req.options,
        allow_outside: req.allow_outside,
        ..ReferOptions::default()
    };
    if let Some(w) = req.window {
        opts.window = w;
    }
    opts.validate().map_err(|e| from_agents_error(&e))?;
    let rgb_bytes = base64_field("rgb", &req.rgb)?;
    let depth_bytes = base64_field("depth", &req.depth)?;
    check_pixels("rgb", &rgb_bytes, state.config.max_pixels)?;
    check_pixels("depth", &depth_bytes, state.config.max_pixels)?;
    let instruction = req.instruction;
    let target = run_blocking(&state, ticket, move |g| {
        let rgb = decode_field("rgb", &rgb_bytes)?;
        let depth =
            robot::decode_depth_png(&depth_bytes, "depth").map_err(|e| from_agents_error(&e))?;
        drop((rgb_bytes, depth_bytes));
        robot::refer(g, &rgb, &depth, &camera, &instruction, &opts)
            .map_err(|e| from_agents_error(&e))
    })
    .await?;
    Ok(Json(target).into_response())
}

/// `GET /healthz`: the model is loaded and the service answers (no model run). Open even
/// with a token, so it says nothing more.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state
        .metrics
        .render(&state.admission, state.config.workers, state.config.queue);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
