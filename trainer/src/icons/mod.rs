//! The perception stage's icon reader (`reticle_models::icons`): a small CNN that names an
//! icon from its 32 × 32 ink map, trained on sheets of icons from npm icon sets
//! (`scripts/icon_sheets.sh`) and exported to `icons.onnx` for the runtime.
//!
//! - [`data`]: a sheet folder → crops (the trainer's stand-in for the runtime's crop boxes);
//! - [`model`]: the network, its training loop and its evaluation;
//! - [`export`]: the ONNX graph and the stage's manifest entry.

pub mod command;
pub mod data;
pub mod export;
pub mod model;

pub use data::{load_sheets, IconSet};
pub use export::{export_stage, ExportedStage};
pub use model::{evaluate, train, IconEval, IconNet, IconTrainConfig};
