//! `reticle desktop` (being built).

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DesktopCommand {
    /// List monitors.
    Monitors,
}

pub fn run(_c: DesktopCommand) -> anyhow::Result<()> {
    anyhow::bail!("reticle desktop is not built yet")
}
