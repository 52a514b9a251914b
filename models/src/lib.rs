//! `reticle-models`: the contract every reticle crate shares.
//!
//! - [`geometry`]: points, boxes, masks, IoU/GIoU, coordinate-frame conversions;
//! - [`camera`]: pinhole intrinsics of depth records;
//! - [`grammar`]: the answer grammar (`<think>…</think><answer>…</answer>`) and its total parser;
//! - [`dataset`]: JSONL dataset records, reader and writer; [`import`]: VLM-R1 / ScreenSpot importers;
//! - [`datacheck`]: every problem of a dataset (files, sizes, boxes, ids), by `file:line`;
//! - [`elements`]: element proposals (controls and icons found in the pixels) for the pointer;
//! - [`manifest`]: the model package manifest and its validation;
//! - [`imageio`]: bounded, EXIF-oriented image decoding and extension-checked encoding; depth
//!   PNGs (`Depth16`);
//! - [`preprocess`]: image → model input planes (SIMD resize), identical in training and running;
//! - [`qwen`]: Qwen2-VL / Qwen2.5-VL checkpoints (config, safetensors headers, image processor,
//!   chat template), checked against `transformers`;
//! - [`rewards`] and [`metrics`]: verifiable rewards and evaluation metrics (pure functions);
//! - [`text`]: text spans read by the perception stage (lines, words, boxes);
//! - [`tokenizer`]: building and loading Hugging Face `tokenizer.json` files;
//!
//! The synthetic task suites that write records of this format are `reticle-suites`.
//!
//! This crate has no native dependencies: it never links libtorch or ONNX Runtime.

pub mod camera;
pub mod datacheck;
pub mod dataset;
pub mod elements;
pub mod error;
pub mod fsutil;
pub mod geometry;
pub mod grammar;
pub mod icons;
pub mod imageio;
pub mod import;
pub mod manifest;
pub mod metrics;
pub mod pointer;
pub mod preprocess;
pub mod qwen;
pub mod rewards;
pub mod text;
pub mod tokenizer;

pub use error::{Error, Result};
