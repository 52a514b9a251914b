//! Bakes the ONNX Runtime library path that the set-up script installed into the binary,
//! so `reticle` finds ONNX Runtime without the user setting environment variables.

fn main() {
    println!("cargo:rerun-if-env-changed=RETICLE_ORT_DYLIB");
    if let Ok(path) = std::env::var("RETICLE_ORT_DYLIB") {
        println!("cargo:rustc-env=RETICLE_ORT_DYLIB_AT_BUILD={path}");
    }
}
