//! `reticle`: ground screenshots and camera frames, generate data, check the set-up.

#[macro_use]
mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// reticle: an embedded agent runtime for UI and robotics grounding.
#[derive(Debug, Parser)]
#[command(name = "reticle", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate, import, check and tokenize datasets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Show which ONNX Runtime library is used and whether the set-up is complete.
    Doctor(cmd::doctor::DoctorArgs),
    /// Ground an instruction in an image with a model package: prints the point or box in
    /// original image pixels.
    Ground(cmd::ground::GroundArgs),
    /// Read the text on an image (the OCR perception stage) and print the spans.
    Perceive(cmd::perceive::PerceiveArgs),
    /// Evaluate a model package on datasets (greedy decoding through ONNX Runtime).
    Eval(cmd::eval::EvalArgs),
    /// Choose a pointer package's nothing_bias on validation data (the trade between
    /// refusing instructions that name nothing and clicking the ones that do).
    Calibrate(cmd::calibrate::CalibrateArgs),
    /// Desktop agent: capture a monitor, ground an instruction, click or type.
    #[command(subcommand)]
    Desktop(cmd::desktop::DesktopCommand),
    /// Robot target: ground a referring expression in an RGB-D frame and deproject it.
    Robot(cmd::robot::RobotArgs),
    /// Serve grounding over HTTP/JSON on loopback.
    Serve(cmd::serve::ServeArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A reader that closed our stdout early (`| head`) is not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(c) => cmd::data::run(c),
        Command::Doctor(a) => cmd::doctor::run(&a),
        Command::Ground(a) => cmd::ground::run(&a),
        Command::Eval(a) => cmd::eval::run(&a),
        Command::Calibrate(a) => cmd::calibrate::run(&a),
        Command::Perceive(a) => cmd::perceive::run(&a),
        Command::Desktop(c) => cmd::desktop::run(c),
        Command::Robot(a) => cmd::robot::run(&a),
        Command::Serve(a) => cmd::serve::run(&a),
    }
}
