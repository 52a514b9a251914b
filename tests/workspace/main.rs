//! Checks on the workspace itself: the crate graph is the architecture.

mod crate_graph;
mod util;
