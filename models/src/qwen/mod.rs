//! Qwen2-VL and Qwen2.5-VL checkpoints as users download them from Hugging Face: the parts
//! every crate must agree on and that need no tensor library.
//!
//! - [`config`]: `config.json` of both families (flat and nested layouts) → [`QwenConfig`];
//! - [`checkpoint`]: the checkpoint folder → [`CheckpointDir`] (shards, tensor names, dtypes
//!   and shapes from the safetensors headers, the tokenizer's vision tokens);
//! - [`processor`]: `Qwen2VLImageProcessor` → `pixel_values` / `image_grid_thw`, and the
//!   answer-frame mapping back to original pixels;
//! - [`prompt`]: [`QwenPrompter`], the grounding prompt and completion decoding that the
//!   trainer and the runtime share;
//! - [`rope`]: `get_rope_index`, the 3-row M-RoPE positions of a prompt;
//! - [`template`]: the checkpoint's Jinja chat template for one image + instruction, with
//!   `<|image_pad|>` expanded.
//!
//! The tch model, LoRA, training, export and the runtime's decode strategy build on these.

pub mod checkpoint;
pub mod config;
pub mod processor;
pub mod prompt;
pub mod rope;
pub mod template;

pub use checkpoint::CheckpointDir;
pub use config::{Family, QwenConfig};
pub use processor::{ImageProcessor, ProcessedImage, ProcessorConfig};
pub use prompt::{QwenPrompt, QwenPrompter};
pub use template::ChatTemplate;
