//! `reticle robot` (being built).

use clap::Args;

#[derive(Debug, Args)]
pub struct RobotArgs {}

pub fn run(_a: &RobotArgs) -> anyhow::Result<()> {
    anyhow::bail!("reticle robot is not built yet")
}
