//! The pointer policy's training: examples ([`data`]), the SFT / GRPO run ([`train`]) and
//! starting from an exported package ([`package`]).
//! The model is `model::pointer`; its ONNX graph is `export::pointer`.

pub mod data;
pub mod package;
pub mod train;

pub use data::{PointerEncoder, PointerExample, SpanIndex};
pub use train::{evaluate, load_trained, run_grpo, run_sft, PointerEval, PointerSession};
