//! The tch Qwen2-VL / Qwen2.5-VL model (`reticle_trainer::model::qwen`) against Hugging Face
//! `transformers` 5.24 (CPU, f32).
//!
//! `transformers_peer.py` (in the torch venv, `$RETICLE_TORCH_VENV`, which `scripts/setup.sh
//! all` gives `transformers`) builds one tiny random checkpoint of each family at test time,
//! saves it with `save_pretrained` (the Qwen2.5-VL one sharded) and writes its logits and greedy
//! tokens; the tests load the same folders with reticle and require logits within 1e-4 and the
//! same greedy tokens. Also: load errors name the tensor, bf16/f16 files load as f32, LoRA
//! SFT steps on one example lower its loss with the base frozen, and `reticle-train sft|grpo`
//! with `architecture = "qwen2-vl"` trains the adapters through the shared loops (`train`),
//! and `reticle-train export` writes a package whose graphs match tch in ONNX Runtime
//! (`export`). Without the venv the tests
//! fail and say so; they are never skipped.

// Test helpers fail loudly: a panic is the test failure we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod export;
mod load;
mod lora;
mod parity;
mod train;
mod util;
