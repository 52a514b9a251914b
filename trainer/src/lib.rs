//! `reticle-trainer`: trains grounding policies on libtorch (tch) and exports them to ONNX.
//!
//! This crate depends on `reticle-models` only and never links ONNX Runtime.

pub mod device;
pub mod error;

pub use error::{Error, Result};
