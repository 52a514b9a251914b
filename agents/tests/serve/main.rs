//! `reticle serve` end to end: each test starts the real binary on a free loopback port
//! with the committed fixture package (`tests/fixtures/micro-ui`) and talks HTTP to it.
//! Slow uploads over a raw connection hold requests in flight deterministically (the
//! service admits a request before reading its body), so the back-pressure, deadline and
//! shutdown tests do not depend on timing.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod auth;
mod connections;
mod lifecycle;
mod limits;
#[path = "../support/mod.rs"]
mod support;
mod util;
