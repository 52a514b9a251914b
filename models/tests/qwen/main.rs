//! Qwen2-VL / Qwen2.5-VL checkpoint contract: parity with `transformers` (the image processor,
//! `smart_resize`, the chat template, safetensors headers), run through the tools venv's
//! Python (`transformers_peer.py`, no downloads), and the checkpoint folder's errors.

mod checkpoint;
mod parity;
mod util;
