//! `cargo xtask bench` (not built yet: its issue is still open).

use xshell::Shell;

#[derive(clap::Args)]
pub struct Cmd {}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        anyhow::bail!("`cargo xtask bench` is not available yet in this checkout")
    }
}
