//! Choosing the libtorch device: `cpu`, `cuda[:N]` or `auto`.
//!
//! An explicit `cuda` that cannot be used is an error, never a silent CPU fallback.
//!
//! The linker drops `libtorch_cuda.so` (nothing references its symbols directly; its kernels
//! register themselves when it is loaded), so `tch::Cuda::is_available()` would say false even
//! on a GPU machine. [`load_cuda_backend`] loads it explicitly, once, when a CUDA or `auto`
//! device is asked for; CPU-only runs never pay for it. It must run before any other libtorch
//! call: libtorch caches its CUDA hooks at the first CUDA query (`at::detail::getCUDAHooks`
//! runs once), so a backend loaded after `is_available`, a seed or a tensor op stays unseen.
//! `reticle-train` calls it first thing in `run`, before dispatching the command.

use std::str::FromStr;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    Cpu,
    Cuda(usize),
    /// CUDA device 0 when usable, else CPU.
    #[default]
    Auto,
}

impl FromStr for DeviceRequest {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |m: &str| Error::Device {
            requested: s.to_string(),
            message: m.to_string(),
        };
        match s.trim() {
            "cpu" => Ok(Self::Cpu),
            "auto" => Ok(Self::Auto),
            "cuda" => Ok(Self::Cuda(0)),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map(Self::Cuda)
                    .map_err(|_| bad("expected cuda:N with N a GPU index")),
                None => Err(bad("expected cpu, cuda, cuda:N or auto")),
            },
        }
    }
}

/// Loads libtorch's CUDA backend if this libtorch has one. Returns what happened, for logs.
#[allow(unsafe_code)]
pub fn load_cuda_backend() -> &'static str {
    static LOADED: OnceLock<String> = OnceLock::new();
    LOADED.get_or_init(|| {
        let mut candidates = Vec::new();
        if let Some(dir) = option_env!("RETICLE_LIBTORCH_LIB") {
            candidates.push(std::path::Path::new(dir).join("libtorch_cuda.so"));
        }
        // A machine whose libtorch lives elsewhere finds it through LD_LIBRARY_PATH.
        candidates.push(std::path::PathBuf::from("libtorch_cuda.so"));
        for path in candidates {
            if path.components().count() > 1 && !path.exists() {
                continue;
            }
            // SAFETY: libtorch_cuda.so is the CUDA half of the libtorch this binary links;
            // loading it runs its static registration of CUDA kernels, which is what we want.
            // The handle is leaked so the library stays loaded for the process lifetime.
            match unsafe { libloading::Library::new(&path) } {
                Ok(lib) => {
                    std::mem::forget(lib);
                    tracing::info!(path = %path.display(), "loaded libtorch CUDA backend");
                    return format!("loaded {}", path.display());
                }
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "no CUDA backend here")
                }
            }
        }
        "libtorch_cuda.so not found (CPU-only libtorch)".to_string()
    })
}

impl DeviceRequest {
    /// Resolves the request against the GPUs libtorch can see.
    pub fn resolve(self) -> Result<tch::Device> {
        if self != Self::Cpu {
            load_cuda_backend();
        }
        let n_gpus = if tch::Cuda::is_available() {
            tch::Cuda::device_count() as usize
        } else {
            0
        };
        match self {
            Self::Cpu => Ok(tch::Device::Cpu),
            Self::Auto if n_gpus > 0 => Ok(tch::Device::Cuda(0)),
            Self::Auto => Ok(tch::Device::Cpu),
            Self::Cuda(i) if i < n_gpus => Ok(tch::Device::Cuda(i)),
            Self::Cuda(i) => Err(Error::Device {
                requested: format!("cuda:{i}"),
                message: if n_gpus == 0 {
                    format!(
                        "libtorch sees no usable CUDA GPU on this machine (no driver, no GPU, or a \
                         CPU-only libtorch; CUDA backend: {}); use --device cpu",
                        load_cuda_backend()
                    )
                } else {
                    format!("only {n_gpus} CUDA device(s) are visible")
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        assert_eq!("cpu".parse::<DeviceRequest>().unwrap(), DeviceRequest::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceRequest>().unwrap(),
            DeviceRequest::Cuda(1)
        );
        assert_eq!(
            "cuda".parse::<DeviceRequest>().unwrap(),
            DeviceRequest::Cuda(0)
        );
        let err = "gpu".parse::<DeviceRequest>().unwrap_err().to_string();
        assert!(err.contains("expected cpu, cuda"), "{err}");
        assert!("cuda:x".parse::<DeviceRequest>().is_err());
    }

    #[test]
    fn cpu_always_resolves_and_missing_cuda_is_an_error() {
        assert_eq!(DeviceRequest::Cpu.resolve().unwrap(), tch::Device::Cpu);
        let gpus = if tch::Cuda::is_available() {
            tch::Cuda::device_count()
        } else {
            0
        };
        let err = DeviceRequest::Cuda(gpus as usize)
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("device cuda:{gpus}:")), "{err}");
    }

    #[test]
    fn libtorch_computes_on_cpu() {
        let a = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([2, 2]);
        let b = a.matmul(&a);
        let v: Vec<f32> = b.flatten(0, -1).try_into().unwrap();
        // [[1,2],[3,4]]^2 = [[7,10],[15,22]].
        assert_eq!(v, vec![7.0, 10.0, 15.0, 22.0]);
    }
}
