//! Build steps of `reticle-trainer`:
//!
//! 1. Adds an rpath to libtorch so `reticle-train` runs without `LD_LIBRARY_PATH`. torch-sys
//!    exports the libtorch library folder as `DEP_TCH_LIBTORCH_LIB` to crates that depend on
//!    it directly (this one does for that reason).
//! 2. Generates the ONNX protobuf types (`onnx.rs` in `OUT_DIR`) from the vendored
//!    `proto/onnx.proto` with prost-build. protox compiles the `.proto` in pure Rust, so no
//!    `protoc` has to be installed.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        // The CUDA backend is loaded at run time from here (see `device::load_cuda_backend`).
        println!("cargo:rustc-env=RETICLE_LIBTORCH_LIB={lib}");
    }

    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
