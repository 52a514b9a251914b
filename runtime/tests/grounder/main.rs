//! End-to-end tests of `Grounder` on tiny ONNX packages (see `util.rs`).

mod ground;
mod icons;
mod load;
mod pipeline;
mod pointer;
mod util;
