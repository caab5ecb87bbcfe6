//! Small helpers shared by the commands.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The repository root (the parent of `xtask/`), whatever the caller's working directory.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory (`CARGO_TARGET_DIR`, relative to the root if relative, or
/// `<repo>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// How an error that ends a command is printed. A user error (port in use, no cluster, a
/// missing tool) is the message and its causes on one line each, and nothing else, even when
/// the shell sets `RUST_BACKTRACE=1` (anyhow would append a 30-frame backtrace that says
/// nothing to the user). `--verbose` adds anyhow's debug form, backtrace included when one
/// was captured. Panics are real bugs and keep the standard hook's backtrace.
pub fn render_error(error: &anyhow::Error, verbose: bool) -> String {
    if verbose {
        return format!("error: {error:?}");
    }
    let mut out = format!("error: {error}");
    for cause in error.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    out
}

/// Prints a step header and, when dropped, how long the step took.
pub struct Step {
    name: String,
    started: Instant,
}

impl Step {
    pub fn new(name: impl Into<String>) -> Step {
        let name = name.into();
        eprintln!("==> {name}");
        Step {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        eprintln!(
            "<== {} ({:.1}s)",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    fn failing() -> anyhow::Result<()> {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        Err(io).context("binding 127.0.0.1:7420: pick another port with --port")
    }

    #[test]
    fn user_errors_print_the_chain_only() {
        let error = failing().unwrap_err();
        assert_eq!(
            render_error(&error, false),
            "error: binding 127.0.0.1:7420: pick another port with --port\n  caused by: address in use"
        );
    }

    #[test]
    fn verbose_is_anyhows_debug_form() {
        let verbose = render_error(&failing().unwrap_err(), true);
        assert!(
            verbose.starts_with("error: binding 127.0.0.1:7420"),
            "{verbose}"
        );
        assert!(verbose.contains("Caused by:"), "{verbose}");
    }
}
