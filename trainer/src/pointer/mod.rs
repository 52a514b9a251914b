//! The pointer policy's training: examples ([`data`]) and the SFT / GRPO run ([`train`]).
//! The model is `model::pointer`; its ONNX graph is `export::pointer`.

pub mod data;
pub mod train;

pub use data::{PointerEncoder, PointerExample, SpanIndex};
pub use train::{evaluate, load_trained, run_grpo, run_sft, PointerEval, PointerSession};
