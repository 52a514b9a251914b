//! Export checks on a briefly trained micro model (CPU): the package files and manifest, the
//! refusal to overwrite, and parity of the ONNX graphs (onnx.checker + ONNX Runtime from the
//! tools venv) with tch within 1e-4.
//!
//! The ONNX side runs in `$RETICLE_TOOLS_VENV/bin/python` (set up by `scripts/setup.sh all`);
//! without it the parity test fails and says so, it is never skipped.

// Test helpers fail loudly: a panic is the test failure we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod package;
mod parity;
mod util;
