//! One module per `reticle` subcommand.

pub mod data;
pub mod doctor;
pub mod eval;
pub mod ground;
