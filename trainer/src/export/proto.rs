//! ONNX protobuf types, generated at build time from the vendored `proto/onnx.proto`
//! (see `build.rs`).

// Generated code: its style is prost's, not ours.
#![allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
