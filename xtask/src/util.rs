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
