//! Finding and loading the ONNX Runtime shared library (`ort` with `load-dynamic`).
//!
//! Search order, first hit wins:
//! 1. `ORT_DYLIB_PATH` (the variable `ort` itself documents);
//! 2. `RETICLE_ORT_DYLIB` at run time;
//! 3. the path the set-up script installed when this binary was built (baked in by `build.rs`);
//! 4. `$RETICLE_CACHE` or `~/.cache/reticle`: the newest `onnxruntime-*/libonnxruntime.so`;
//! 5. `libonnxruntime.so` next to the executable, then the system's library path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Which library was loaded.
#[derive(Debug, Clone)]
pub struct OrtLibrary {
    /// The file that was loaded (or the bare name handed to the system loader).
    pub path: PathBuf,
    /// ONNX Runtime's own version string, e.g. `1.24.4`.
    pub version: String,
}

static LOADED: OnceLock<std::result::Result<OrtLibrary, String>> = OnceLock::new();
static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RETICLE_CACHE") {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle"))
}

/// The candidates in search order, with where each came from.
pub fn candidates() -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    for var in ["ORT_DYLIB_PATH", "RETICLE_ORT_DYLIB"] {
        if let Some(p) = std::env::var_os(var) {
            out.push((PathBuf::from(p), var));
        }
    }
    if let Some(p) = option_env!("RETICLE_ORT_DYLIB_AT_BUILD") {
        out.push((PathBuf::from(p), "set-up at build time"));
    }
    if let Some(dir) = cache_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("onnxruntime-"))
            })
            .map(|p| p.join("libonnxruntime.so"))
            .filter(|p| p.is_file())
            .collect();
        // Newest version last after a lexical sort of "onnxruntime-1.x.y" is close enough;
        // compare numerically to be exact.
        found.sort_by_key(|p| version_key(p));
        if let Some(p) = found.pop() {
            out.push((p, "set-up cache"));
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push((dir.join("libonnxruntime.so"), "next to the executable"));
    }
    out.push((PathBuf::from("libonnxruntime.so"), "system library path"));
    out
}

fn version_key(p: &Path) -> Vec<u32> {
    p.parent()
        .and_then(|d| d.file_name())
        .map(|n| {
            n.to_string_lossy()
                .trim_start_matches("onnxruntime-")
                .to_string()
        })
        .unwrap_or_default()
        .split('.')
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

/// Loads ONNX Runtime once per process and returns which library is in use. Later calls
/// return the first result.
pub fn load() -> Result<OrtLibrary> {
    LOADED
        .get_or_init(|| {
            let mut tried = Vec::new();
            for (path, source) in candidates() {
                let bare = path.components().count() == 1;
                if !bare && !path.is_file() {
                    tried.push(format!("{} ({source}): not found", path.display()));
                    continue;
                }
                match ort::init_from(&path) {
                    Ok(builder) => {
                        // Loading the library is what we need here; sessions build their
                        // environment (threads, providers) when they are created.
                        drop(builder);
                        let version = ort_version(&path);
                        tracing::info!(path = %path.display(), %version, source, "loaded ONNX Runtime");
                        return Ok(OrtLibrary { path, version });
                    }
                    Err(e) => tried.push(format!("{} ({source}): {e}", path.display())),
                }
            }
            Err(format!(
                "cannot load the ONNX Runtime shared library; run `scripts/setup.sh runtime` or set \
                 ORT_DYLIB_PATH to a libonnxruntime.so of version 1.24 or newer. Tried:\n  {}",
                tried.join("\n  ")
            ))
        })
        .clone()
        .map_err(Error::OrtLibrary)
}

/// The process-wide ONNX Runtime environment (ONNX Runtime allows one per process), created
/// on first use after [`load`]. Sessions are built from it.
pub fn environment() -> Result<ort::environment::Environment> {
    load()?;
    ENVIRONMENT
        .get_or_init(|| {
            ort::init()
                .with_name("reticle")
                .build()
                .map_err(|e| format!("cannot create the environment: {e}"))
        })
        .clone()
        .map_err(Error::OrtLibrary)
}

/// The library's own version string (`OrtGetApiBase()->GetVersionString()`); `ort` reads it
/// while loading but does not expose it.
#[allow(unsafe_code)]
fn ort_version(path: &Path) -> String {
    // SAFETY: `path` was just loaded successfully by `ort::init_from`, which checked that it
    // exports `OrtGetApiBase` with the ONNX Runtime C ABI; opening it again returns the same
    // handle. `GetVersionString` returns a static NUL-terminated string that must not be freed.
    let read = || -> Option<String> {
        unsafe {
            let lib = libloading::Library::new(path).ok()?;
            let get_base: libloading::Symbol<
                unsafe extern "C" fn() -> *const ort::sys::OrtApiBase,
            > = lib.get(b"OrtGetApiBase").ok()?;
            let base = get_base();
            if base.is_null() {
                return None;
            }
            let s = ((*base).GetVersionString)();
            if s.is_null() {
                return None;
            }
            let v = std::ffi::CStr::from_ptr(s).to_str().ok()?.to_string();
            // Keep the library loaded for the life of the process, like `ort` does.
            std::mem::forget(lib);
            Some(v)
        }
    };
    read().unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_key_orders_numerically() {
        let a = version_key(Path::new("/c/onnxruntime-1.9.0/libonnxruntime.so"));
        let b = version_key(Path::new("/c/onnxruntime-1.24.4/libonnxruntime.so"));
        assert!(a < b);
    }

    #[test]
    fn loads_the_installed_library() {
        let lib = load().expect("scripts/setup.sh installs ONNX Runtime before the tests run");
        assert!(lib.version.starts_with("1."), "{lib:?}");
    }
}
