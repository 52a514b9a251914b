//! Bearer-token authentication.
//!
//! With a token configured, `/v1/*` and `/metrics` need `Authorization: Bearer <token>`;
//! `/healthz` and `/openapi.json` stay open (they reveal nothing about requests or the model,
//! and load balancers and API tools read them without credentials).
//!
//! The comparison is constant-time in the token's content (`subtle`): its timing tells an
//! attacker at most whether the lengths differ.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use super::api::ApiError;
use super::limits::drain;
use super::AppState;

/// Whether `header_value` (the whole `Authorization` value) carries `token`.
pub fn bearer_matches(header_value: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = header_value else {
        return false;
    };
    // The scheme is case-insensitive (RFC 7235); exactly one space follows it.
    let Some((scheme, given)) = value.split_at_checked(7) else {
        return false;
    };
    scheme.eq_ignore_ascii_case(b"bearer ") && bool::from(given.ct_eq(token.as_bytes()))
}

/// Middleware of the protected routes; a no-op without a configured token.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config.token.as_deref() else {
        return next.run(req).await;
    };
    let value = req.headers().get(header::AUTHORIZATION);
    if bearer_matches(value.map(|v| v.as_bytes()), token) {
        return next.run(req).await;
    }
    let message = if value.is_none() {
        "missing Authorization: Bearer <token> header"
    } else {
        "wrong bearer token"
    };
    // Read the body a client may still be sending, so that it sees the 401 (see `drain`).
    drain(req.into_body(), state.config.max_body_bytes).await;
    ApiError::unauthorized(message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_after_bearer_matches() {
        let t = "0123456789abcdef";
        let check = |v: Option<&str>, ok: bool| {
            assert_eq!(bearer_matches(v.map(str::as_bytes), t), ok, "{v:?}");
        };
        check(Some("Bearer 0123456789abcdef"), true);
        check(Some("bearer 0123456789abcdef"), true);
        check(None, false);
        check(Some(""), false);
        check(Some("Bearer"), false);
        check(Some("Bearer "), false);
        check(Some("Bearer 0123456789abcde"), false);
        check(Some("Bearer 0123456789abcdef0"), false);
        check(Some("Bearer  0123456789abcdef"), false);
        check(Some("Basic 0123456789abcdef"), false);
        check(Some("0123456789abcdef"), false);
    }
}
