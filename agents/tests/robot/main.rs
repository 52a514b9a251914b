//! `reticle robot` and the `reticle_agents::robot` pipeline on `spatial` suite scenes, whose
//! records carry the camera intrinsics and every object's true pixel and 3-D surface point.
//!
//! - `spatial`: deprojecting each object's true pixel through the depth PNG the suite wrote,
//!   with a camera file built from the record (table-frame extrinsics, matrix and
//!   quaternion forms), lands within 5 mm of the true point, in both frames;
//! - `cli`: the real binary runs the committed fixture package (`tests/fixtures/micro-ui`,
//!   trained on 12 `ui` screens) on those screens seen by a camera looking at a tilted plane
//!   (a ray-cast depth PNG), so the model's point is real and the 3-D target is known
//!   exactly: it lands on the plane within 3 mm, inside the workspace; workspace limits, an
//!   answer that is not a point (the fixture on a tabletop scene) and bad inputs fail with
//!   clear messages and a non-zero exit;
//! - `examples`: the camera files in `examples/robot` parse and fit the scene they describe.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod examples;
mod spatial;
#[path = "../support/mod.rs"]
mod support;
mod util;
