//! Throughput of the synthetic suites, PNG writing included, on all cores.
//!
//! `cargo bench -p reticle-suites --bench suites [-- ui|spatial|shapes ...]`
//!
//! Set `RETICLE_SUITES_KEEP=DIR` to keep the generated datasets in `DIR/<suite>` for a look.

use std::path::PathBuf;
use std::time::Instant;

use reticle_suites::{generate, SuiteConfig, SuiteKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let keep = std::env::var_os("RETICLE_SUITES_KEEP").map(PathBuf::from);
    println!(
        "suite throughput on {} threads (render + PNG write)",
        rayon::current_num_threads()
    );
    for (kind, n) in [
        (SuiteKind::Ui, 200),
        (SuiteKind::Spatial, 100),
        (SuiteKind::Shapes, 200),
    ] {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == kind.as_str()) {
            continue;
        }
        let tmp = tempfile::tempdir()?;
        let out = keep
            .as_ref()
            .map_or_else(|| tmp.path().to_path_buf(), |k| k.join(kind.as_str()));
        let cfg = SuiteConfig::new(kind, n, 7);
        let start = Instant::now();
        let summary = generate(&cfg, &out, &|_| {})?;
        let secs = start.elapsed().as_secs_f64();
        let bytes: u64 = std::fs::read_dir(out.join("images"))?
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        println!(
            "{:<8} {:>4} samples in {:>6.2} s = {:>7.1} samples/s  ({:.0} KiB per image)",
            kind.as_str(),
            summary.n,
            secs,
            n as f64 / secs,
            bytes as f64 / 1024.0 / n as f64
        );
    }
    Ok(())
}
