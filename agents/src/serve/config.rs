//! [`ServeConfig`]: the checked settings of a grounding service.

use std::net::SocketAddr;
use std::time::Duration;

use super::error::{Error, Result};

/// How the service listens, admits and limits requests. Build it, then call
/// [`ServeConfig::validate`] (done by [`super::serve`]) before binding anything.
#[derive(Clone)]
pub struct ServeConfig {
    /// Where to listen. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// Bearer token every `/v1` route and `/metrics` require; `None` leaves them open,
    /// which is only allowed on a loopback address.
    pub token: Option<String>,
    /// Grounding requests that may run at once (the package is loaded with as many workers).
    pub workers: usize,
    /// Requests that may wait for a worker; one more gets 503 with `Retry-After`.
    pub queue: usize,
    /// Largest request body (413 above it).
    pub max_body_bytes: usize,
    /// Largest image (width × height) accepted, checked from the header before decoding.
    pub max_pixels: u64,
    /// Deadline of a request from admission to response: body upload, queue wait and
    /// grounding (504 when it passes).
    pub timeout: Duration,
    /// The `Retry-After` value (seconds) sent with 503.
    pub retry_after_s: u32,
    /// Open connections at most; one more is answered 503 and closed at once.
    pub max_connections: usize,
    /// Time a connection has to send a complete request head (idle keep-alive connections
    /// included); then it is closed.
    pub header_read_timeout: Duration,
}

/// The most workers a service loads: each holds its own copy of the model's sessions.
pub const MAX_WORKERS: usize = 64;

/// The most connections `max_connections` may allow (each costs a file descriptor and a task).
pub const MAX_CONNECTIONS: usize = 65_536;

/// Tokens shorter than this are refused: a bearer token is a password.
pub const MIN_TOKEN_LEN: usize = 16;

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            workers: 1,
            queue: 16,
            max_body_bytes: 32 << 20,
            max_pixels: 25_000_000,
            timeout: Duration::from_secs(30),
            retry_after_s: 1,
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

// The token never appears in logs or debug output.
impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_pixels", &self.max_pixels)
            .field("timeout", &self.timeout)
            .field("retry_after_s", &self.retry_after_s)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish()
    }
}

impl ServeConfig {
    /// Refuses settings that would make an unsafe or useless service: an open service on a
    /// non-loopback address, a weak token, zero workers, a zero limit.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::Config(message));
        if let Some(t) = &self.token {
            if t.chars().count() < MIN_TOKEN_LEN {
                return bad(format!(
                    "the token has {} characters; use at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 32`)",
                    t.chars().count()
                ));
            }
            if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return bad("the token must not contain whitespace or control characters".into());
            }
        } else if !self.addr.ip().is_loopback() {
            return bad(format!(
                "refusing to listen on {} without a token: anyone who can reach it could use the \
                 model; pass --token or set RETICLE_TOKEN, or listen on 127.0.0.1",
                self.addr.ip()
            ));
        }
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return bad(format!(
                "workers must be in 1..={MAX_WORKERS} (each loads its own copy of the model), got {}",
                self.workers
            ));
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS {
            return bad(format!(
                "max connections must be in 1..={MAX_CONNECTIONS}, got {}",
                self.max_connections
            ));
        }
        if self.header_read_timeout.is_zero() {
            return bad("the header read timeout must be positive".into());
        }
        if self.max_body_bytes == 0 {
            return bad("max body bytes must be positive".into());
        }
        if self.max_pixels == 0 {
            return bad("max pixels must be positive".into());
        }
        if self.timeout.is_zero() {
            return bad("the request timeout must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(addr: &str, token: Option<&str>, ok: bool) {
        let cfg = ServeConfig {
            addr: addr.parse().unwrap(),
            token: token.map(str::to_string),
            ..ServeConfig::default()
        };
        assert_eq!(
            cfg.validate().is_ok(),
            ok,
            "{addr} {token:?}: {:?}",
            cfg.validate()
        );
    }

    #[test]
    fn non_loopback_addresses_need_a_strong_token() {
        let strong = Some("0123456789abcdef0123");
        check("127.0.0.1:0", None, true);
        check("[::1]:0", None, true);
        check("0.0.0.0:0", None, false);
        check("[::]:8080", None, false);
        check("192.168.1.2:80", None, false);
        check("0.0.0.0:0", strong, true);
        check("0.0.0.0:0", Some("short"), false);
        check("127.0.0.1:0", Some("has a space in it ok"), false);
    }

    #[test]
    fn workers_and_connections_are_capped() {
        let with = |workers, max_connections| ServeConfig {
            workers,
            max_connections,
            ..ServeConfig::default()
        };
        let err = with(100_000, 256).validate().unwrap_err().to_string();
        assert!(err.contains("workers must be in 1..=64"), "{err}");
        assert!(err.contains("got 100000"), "{err}");
        assert!(with(0, 256).validate().is_err());
        assert!(with(64, 256).validate().is_ok());
        assert!(with(1, 0).validate().is_err());
        assert!(with(1, 1 << 20).validate().is_err());
    }

    #[test]
    fn debug_output_hides_the_token() {
        let cfg = ServeConfig {
            token: Some("0123456789abcdef-secret".into()),
            ..ServeConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("secret"));
    }
}
