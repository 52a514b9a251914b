//! The pipeline tests link libtorch (through reticle-trainer); give their binaries an rpath
//! to it, as the trainer's build script does for its own, so they run without
//! `LD_LIBRARY_PATH`. `LIBTORCH` is set by `scripts/env.sh`.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
    }
}
