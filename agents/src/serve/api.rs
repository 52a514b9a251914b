//! The wire format: request bodies, and [`ApiError`], the one JSON error shape
//! `{"error": {"code": "...", "message": "..."}}` every failure is answered with.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use reticle_runtime::DecodeOptions;
use serde::Deserialize;

/// Longest instruction accepted, in characters (the models' prompts are far shorter; this
/// bounds tokenizer work per request).
pub const MAX_INSTRUCTION_CHARS: usize = 4096;

/// `POST /v1/ground`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundRequest {
    /// PNG or JPEG bytes, standard base64 (padding optional).
    pub image: String,
    pub instruction: String,
    /// Aligned single-channel 16-bit depth PNG, base64: required by RGB-D packages, refused
    /// (422) by RGB ones.
    #[serde(default)]
    pub depth: Option<String>,
    /// Metres per depth unit.
    #[serde(default = "default_depth_scale")]
    pub depth_scale: f64,
    #[serde(default)]
    pub options: DecodeOptions,
    /// Also return the text read on the image (`result.spans`).
    #[serde(default)]
    pub spans: bool,
}

fn default_depth_scale() -> f64 {
    0.001
}

/// `POST /v1/refer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferRequest {
    /// PNG or JPEG colour frame, base64.
    pub rgb: String,
    /// 16-bit single-channel PNG aligned with `rgb`, base64.
    pub depth: String,
    /// The camera model, the same JSON object as a `reticle robot` camera file.
    pub camera: serde_json::Value,
    pub instruction: String,
    /// Side of the square depth window (pixels); the robot library's default when absent.
    #[serde(default)]
    pub window: Option<u32>,
    /// Return a target outside the camera's workspace limits (flagged
    /// `within_workspace: false`) instead of answering 422.
    #[serde(default)]
    pub allow_outside: bool,
    #[serde(default)]
    pub options: DecodeOptions,
}

/// An error answer. `code` is stable and machine-readable; `message` is for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (503 only).
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    /// 400: the body is not JSON, or not the JSON the route expects.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401, with `WWW-Authenticate: Bearer` added by [`IntoResponse`].
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 422: well-formed JSON whose values cannot be used (`code` says which).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503 with `Retry-After`.
    pub fn overloaded(retry_after_s: u32) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "every worker is busy and the queue is full; retry later",
            )
        }
    }

    /// 504.
    pub fn timeout(limit_ms: u128) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("the request did not complete within {limit_ms} ms"),
        )
    }

    /// 500: a failure of the service, never of the input. The details go to the log.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        });
        let mut res = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after_s {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

/// Parses a request body; serde's message names the field, line and column.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// Decodes standard base64 (padding optional, whitespace-free) naming `field` in errors.
pub fn base64_field(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(text).map_err(|e| {
        ApiError::unprocessable("invalid_base64", format!("{field}: not base64: {e}"))
    })?;
    if bytes.is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_image",
            format!("{field}: the image is empty"),
        ));
    }
    Ok(bytes)
}

/// Checks an instruction before any model work.
pub fn check_instruction(instruction: &str) -> Result<(), ApiError> {
    if instruction.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid_instruction",
            "instruction: the instruction is empty",
        ));
    }
    let n = instruction.chars().count();
    if n > MAX_INSTRUCTION_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_instruction",
            format!("instruction: {n} characters, above the limit of {MAX_INSTRUCTION_CHARS}"),
        ));
    }
    Ok(())
}

/// Checks decoding options before any model work.
pub fn check_options(options: &DecodeOptions) -> Result<(), ApiError> {
    options
        .validate()
        .map_err(|e| ApiError::unprocessable("invalid_options", format!("options: {e}")))
}

/// The HTTP answer to an error of the robot pipeline (depth decoding, `/v1/refer`). Errors
/// of the caller's data are 422; failures of the model are 500. The match is exhaustive:
/// a new variant must be classified here.
pub fn from_agents_error(e: &crate::robot::Error) -> ApiError {
    use crate::robot::Error as E;
    let msg = e.to_string();
    match e {
        E::Runtime(r) => from_runtime_error(r),
        E::Models(m) => from_models_error(m),
        E::Camera { .. } => ApiError::unprocessable("invalid_camera", msg),
        E::RobotImage { .. } => ApiError::unprocessable("invalid_image", msg),
        E::NoValidDepth { .. } => ApiError::unprocessable("no_valid_depth", msg),
        E::OutsideWorkspace { .. } => ApiError::unprocessable("outside_workspace", msg),
        E::BeyondRange { .. } => ApiError::unprocessable("outside_workspace", msg),
        E::NoTargetPoint { .. } => ApiError::unprocessable("no_target", msg),
        E::RobotOption { .. } => ApiError::unprocessable("invalid_options", msg),
        E::NonFinite { .. } => ApiError::unprocessable("non_finite", msg),
    }
}

/// Runtime errors: invalid inputs are 422, everything else is the service's fault.
pub fn from_runtime_error(e: &reticle_runtime::Error) -> ApiError {
    use reticle_runtime::Error as E;
    match e {
        E::Invalid { .. } => ApiError::unprocessable("invalid_input", e.to_string()),
        E::Models(m) => from_models_error(m),
        _ => {
            tracing::error!(error = %e, "grounding failed");
            ApiError::internal(format!("grounding failed: {e}"))
        }
    }
}

fn from_models_error(e: &reticle_models::Error) -> ApiError {
    use reticle_models::Error as E;
    match e {
        E::Image { .. } => ApiError::unprocessable("invalid_image", e.to_string()),
        E::Invalid { .. } | E::Answer(_) => ApiError::unprocessable("invalid_input", e.to_string()),
        _ => {
            tracing::error!(error = %e, "grounding failed");
            ApiError::internal(format!("grounding failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_accepts_padding_or_none_and_names_the_field() {
        assert_eq!(base64_field("image", "aGk=").unwrap(), b"hi");
        assert_eq!(base64_field("image", "aGk").unwrap(), b"hi");
        let e = base64_field("depth", "***").unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.starts_with("depth:"), "{}", e.message);
        assert_eq!(base64_field("image", "").unwrap_err().code, "invalid_image");
    }

    #[test]
    fn instructions_are_bounded() {
        assert!(check_instruction("click Save").is_ok());
        assert!(check_instruction("  ").is_err());
        assert!(check_instruction(&"a".repeat(MAX_INSTRUCTION_CHARS + 1)).is_err());
    }
}
