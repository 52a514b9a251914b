//! The text reader on real OCR graphs (PP-OCRv6 small from the rapidocr wheel, fetched by
//! `scripts/setup.sh runtime`): recall on synthetic screens with known labels, word boxes,
//! incremental reads equal to cold reads, and bad input.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod incremental;
mod read;
mod util;
