//! `cargo xtask teardown` (not built yet: its issue is still open).

use xshell::Shell;

#[derive(clap::Args)]
pub struct Cmd {}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        anyhow::bail!("`cargo xtask teardown` is not available yet in this checkout")
    }
}
