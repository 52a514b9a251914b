//! `reticle robot` and the `reticle_agents::robot` pipeline on `spatial` suite scenes, whose
//! records carry the camera intrinsics and every object's true pixel and 3-D surface point.
//!
//! - `spatial`: deprojecting each object's true pixel through the depth PNG the suite wrote,
//!   with a camera file built from the record (table-frame extrinsics, matrix and
//!   quaternion forms), lands within 5 mm of the true point, in both frames;
//! - `cli`: the real binary runs the committed fixture package (`tests/fixtures/micro-ui`,
//!   trained on `ui`, so its points on a tabletop are arbitrary) and returns a finite target
//!   inside a workspace that holds the whole scene, consistent with the camera; workspace
//!   limits and bad inputs fail with clear messages and a non-zero exit.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod spatial;
mod util;
