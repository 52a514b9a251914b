//! `reticle-trainer`: trains grounding policies on libtorch (tch) and exports them to ONNX.
//!
//! This crate depends on `reticle-models` only and never links ONNX Runtime.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod export;
pub mod generate;
pub mod grpo;
pub mod icons;
pub mod metrics_log;
pub mod model;
pub mod optim;
pub mod plot;
pub mod pointer;
pub mod qwen;
pub mod run;
pub mod session;
pub mod sft;
pub mod trainee;

pub use error::{Error, Result};
