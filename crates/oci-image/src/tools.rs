//! Finding the external tools (skopeo, umoci, runc) on `PATH`, with a message that says how
//! to install them when they are missing.

use anyhow::{Result, bail};
use std::path::PathBuf;

/// The script that installs skopeo, umoci, runc and nix-bin.
pub const INSTALLER: &str = ".ci/install/20-oci-tools.sh";

/// Full path of `tool` on `PATH`, or an error naming the installer.
pub fn require(tool: &str) -> Result<PathBuf> {
    if let Some(path) = find(tool) {
        return Ok(path);
    }
    bail!(
        "`{tool}` is not installed (not found on PATH): run `{INSTALLER}` (apt-get install -y skopeo umoci runc nix-bin openssl)"
    )
}

/// Full path of `tool` on `PATH`, if any.
pub fn find(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    // runc lands in /usr/sbin, which is not on every user's PATH.
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(tool))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_name_the_installer() {
        let err = require("surely-not-a-real-tool-name")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(INSTALLER)));
        assert!(find("gzip").is_some());
    }
}
