//! Helpers shared by the workspace checks.

use std::path::PathBuf;

/// The workspace root (this test crate lives in `tests/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
