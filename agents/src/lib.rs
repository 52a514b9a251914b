//! `reticle-agents`: what turns grounding into actions, and the `reticle` binary.
//!
//! The desktop agent (`desktop`: xcap capture → grounding → enigo actions, safe by default),
//! robot targets (`robot`: depth deprojection with nalgebra), the grounding service (`serve`:
//! axum on tokio) and where the shipped default package is found (`defaults`); the `reticle`
//! binary is the command-line front end over them. It depends on `reticle-runtime` and
//! `reticle-models`, never on libtorch.

pub mod defaults;
pub mod desktop;
pub mod error;
pub mod robot;
pub mod serve;

pub use error::{Error, Result};
