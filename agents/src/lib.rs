//! `reticle-agents`: what turns grounding into actions, and the `reticle` binary.
//!
//! Today this crate holds the command-line front end for data generation and set-up checks;
//! the desktop agent (xcap + enigo), the robot target pipeline (nalgebra) and the grounding
//! service (tokio) land here as they are built. It depends on `reticle-runtime` and
//! `reticle-models`, never on libtorch.

pub mod defaults;
pub mod desktop;
pub mod error;
pub mod robot;
pub mod serve;

pub use error::{Error, Result};
