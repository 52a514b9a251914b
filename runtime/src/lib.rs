//! `reticle-runtime`: runs reticle model packages with ONNX Runtime (CPU or CUDA).
//!
//! ONNX Runtime is loaded dynamically ([`ort_lib::load`]) so that the binary builds without
//! it and finds the library the set-up script installed. This crate never links libtorch.

pub mod error;
pub mod ort_lib;

pub use error::{Error, Result};
