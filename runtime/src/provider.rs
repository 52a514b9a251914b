//! Execution providers: where the graphs run.
//!
//! `cpu` always works. `cuda[:N]` registers ONNX Runtime's CUDA provider on device `N` and
//! fails loudly when it cannot (a CPU-only library, no driver, no such device): a user who
//! asked for a GPU never silently gets the CPU. `auto` tries CUDA device 0 when the library
//! has the CUDA provider and falls back to the CPU, logging which one is in use.

use std::fmt;
use std::str::FromStr;

use ort::ep::{self, ExecutionProvider as _};
use ort::session::builder::SessionBuilder;

use crate::error::{Error, Result};

/// The execution provider a caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    Cpu,
    /// CUDA on this device id.
    Cuda(i32),
    /// CUDA device 0 when usable, else the CPU.
    #[default]
    Auto,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Cpu => f.write_str("cpu"),
            Provider::Cuda(0) => f.write_str("cuda"),
            Provider::Cuda(n) => write!(f, "cuda:{n}"),
            Provider::Auto => f.write_str("auto"),
        }
    }
}

impl FromStr for Provider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "provider",
                format!("`{s}` (expected cpu, cuda, cuda:N or auto)"),
            )
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Provider::Cpu),
            "cuda" | "gpu" => Ok(Provider::Cuda(0)),
            "auto" => Ok(Provider::Auto),
            other => {
                let id = other.strip_prefix("cuda:").ok_or_else(bad)?;
                let id: i32 = id.parse().map_err(|_| bad())?;
                if id < 0 {
                    return Err(bad());
                }
                Ok(Provider::Cuda(id))
            }
        }
    }
}

/// Whether the loaded ONNX Runtime library was built with the CUDA provider.
pub fn cuda_in_library() -> bool {
    ep::CUDA::is_available().unwrap_or(false)
}

/// The providers to try, in order, for a request: `auto` becomes `[cuda:0, cpu]` when the
/// library has CUDA, else `[cpu]`.
pub(crate) fn candidates(requested: Provider) -> Result<Vec<Provider>> {
    match requested {
        Provider::Cpu => Ok(vec![Provider::Cpu]),
        Provider::Cuda(id) => {
            if !cuda_in_library() {
                return Err(Error::Provider {
                    provider: requested.to_string(),
                    message: format!(
                        "the loaded ONNX Runtime library ({}) has no CUDA execution provider; \
                         install the onnxruntime-gpu library (`scripts/setup.sh runtime` on a \
                         GPU machine) or use --provider cpu",
                        crate::ort_lib::load()
                            .map(|l| format!("{} {}", l.version, l.path.display()))
                            .unwrap_or_else(|e| e.to_string())
                    ),
                });
            }
            Ok(vec![Provider::Cuda(id)])
        }
        Provider::Auto => {
            if cuda_in_library() {
                Ok(vec![Provider::Cuda(0), Provider::Cpu])
            } else {
                Ok(vec![Provider::Cpu])
            }
        }
    }
}

/// Registers `provider` (a concrete one, not `auto`) on a session builder; CUDA registration
/// errors are returned, never swallowed.
pub(crate) fn register(builder: SessionBuilder, provider: Provider) -> Result<SessionBuilder> {
    let dispatch = match provider {
        // ort's CPU default turns ONNX Runtime's memory arena off; Python's onnxruntime leaves
        // it on, and on the pointer graph that alone is 134 vs 103 ms p50 (bench_pointer.sh).
        Provider::Cpu | Provider::Auto => ep::CPU::default()
            .with_arena_allocator(true)
            .build()
            .error_on_failure(),
        Provider::Cuda(id) => ep::CUDA::default()
            .with_device_id(id)
            .build()
            .error_on_failure(),
    };
    builder
        .with_execution_providers([dispatch])
        .map_err(|e| Error::Provider {
            provider: provider.to_string(),
            message: format!("cannot register: {}", ort::Error::<()>::from(e)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_strings_parse() {
        for (s, want) in [
            ("cpu", Provider::Cpu),
            ("CUDA", Provider::Cuda(0)),
            ("cuda:1", Provider::Cuda(1)),
            ("auto", Provider::Auto),
        ] {
            assert_eq!(s.parse::<Provider>().unwrap(), want, "{s}");
        }
        for s in ["", "tpu", "cuda:", "cuda:-1", "cuda:x"] {
            let err = s.parse::<Provider>().unwrap_err().to_string();
            assert!(err.contains("expected cpu, cuda, cuda:N or auto"), "{err}");
        }
        assert_eq!(Provider::Cuda(2).to_string(), "cuda:2");
    }
}
