//! `reticle serve` (being built).

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub fn run(_a: &ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("reticle serve is not built yet")
}
