//! End-to-end training checks on micro models (seconds each, CPU): SFT memorises a few
//! records, GRPO raises the mean reward, and a killed run resumes to the same result.

// Test helpers fail loudly: a panic is the test failure we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod grpo;
mod pointer;
mod resume;
mod sft;
mod util;
