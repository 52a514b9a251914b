//! `reticle-train`: the trainer's command line.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use reticle_trainer::device::DeviceRequest;

/// Train reticle grounding policies on libtorch and export them to ONNX.
#[derive(Debug, Parser)]
#[command(name = "reticle-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the libtorch build in use and which devices it can train on.
    Info {
        /// Device to check: cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Info { device } => {
            let req: DeviceRequest = device.parse()?;
            let cuda = tch::Cuda::is_available();
            println!("libtorch threads: {}", tch::get_num_threads());
            println!("cuda available:   {cuda}");
            if cuda {
                println!("cuda devices:     {}", tch::Cuda::device_count());
            }
            let dev = req.resolve().context("resolving --device")?;
            let x = tch::Tensor::randn([256, 256], (tch::Kind::Float, dev));
            let y = x.matmul(&x).sum(tch::Kind::Float);
            let v = f64::try_from(y).context("reading a result back from the device")?;
            println!("device {dev:?}: ok (256x256 matmul sum {v:.3})");
            Ok(())
        }
    }
}
