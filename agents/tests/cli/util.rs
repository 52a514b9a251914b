//! Helpers of the CLI tests: the shared test support (the fixture, its training records,
//! running `reticle`).

pub use crate::support::{
    arg, fixture, json, pointer_fixture, reticle, run, stderr, stdout, training_data,
};
