//! One module per `reticle` subcommand.

/// `println!` that returns an error instead of panicking when stdout is closed
/// (`reticle eval --json | head`); `main` treats a broken pipe as a normal end.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod annotate;
pub mod calibrate;
pub mod data;
pub mod data_perceive;
pub mod desktop;
pub mod doctor;
pub mod eval;
pub mod ground;
pub mod perceive;
pub mod robot;
pub mod serve;
