//! Fine-tuning a Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint with LoRA through the shared
//! SFT and GRPO loops: examples ([`data`]: the processor, the chat template, reference answers
//! in the family's answer frame) and the run ([`session`]: `QwenSession`, the `Trainee` of this
//! family, saving only the adapters). The model is `model::qwen`; docs/qwen.md.

pub mod data;
pub mod session;

pub use data::{QwenEncoder, QwenExample};
pub use session::{evaluate, load_trained, QwenEvalSet, QwenSession, TrainedQwen};
