//! `reticle doctor`: what the set-up installed and what this binary finds.

use clap::Args;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    let candidates = reticle_runtime::ort_lib::candidates();
    let loaded = reticle_runtime::ort_lib::load();
    let display = std::env::var("DISPLAY").ok();
    if args.json {
        let v = serde_json::json!({
            "onnxruntime": match &loaded {
                Ok(l) => serde_json::json!({"path": l.path, "version": l.version}),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            },
            "display": display,
            "reticle_version": env!("CARGO_PKG_VERSION"),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!("reticle {}", env!("CARGO_PKG_VERSION"));
        outln!("ONNX Runtime search order:");
        for (p, source) in &candidates {
            outln!("  {:<28} {}", source, p.display());
        }
        match &loaded {
            Ok(l) => outln!("ONNX Runtime: {} ({})", l.version, l.path.display()),
            Err(e) => outln!("ONNX Runtime: NOT USABLE\n{e}"),
        }
        outln!(
            "X display: {}",
            display
                .as_deref()
                .unwrap_or("none (desktop agent needs DISPLAY)")
        );
    }
    loaded.map(|_| ()).map_err(Into::into)
}
