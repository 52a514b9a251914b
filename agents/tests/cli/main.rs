//! The `reticle` binary end to end: `ground` and `eval` run the committed fixture package
//! (`tests/fixtures/micro-ui`, a micro model that memorised 12 `ui` records) through ONNX
//! Runtime on the very records it was trained on, and bad inputs fail with a clear message.
//!
//! The fixture is made by `scripts/make_fixture_package.sh`; the agents crate never depends on
//! the trainer, so these tests need no libtorch.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod calibrate;
mod data;
mod errors;
mod eval;
mod ground;
mod perceive;
#[path = "../support/mod.rs"]
mod support;
mod util;
