//! Fake tools on a temporary PATH: shell scripts that print what the real ones print.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Writing an executable while another thread forks can make exec fail with ETXTBSY; tests that
/// write and run fake tools hold this lock.
static EXEC_LOCK: Mutex<()> = Mutex::new(());

pub fn exec_lock() -> MutexGuard<'static, ()> {
    EXEC_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `dir/name` as a `/bin/sh` script with `body`.
pub fn fake_tool(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A PATH of `dir` plus `dir/.sys` holding only `cat`, `touch` and `mkdir` (the scripts' needs besides
/// shell builtins), so no real minikube/helm/kubectl/skopeo of the machine leaks in.
pub fn path_of(dir: &Path) -> OsString {
    let sys = dir.join(".sys");
    std::fs::create_dir_all(&sys).unwrap();
    for tool in ["cat", "touch", "mkdir"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        let link = sys.join(tool);
        if !link.exists() {
            std::os::unix::fs::symlink(real, link).unwrap();
        }
    }
    std::env::join_paths([dir.to_path_buf(), sys]).unwrap()
}

pub const MINIKUBE_VERSION: &str =
    "echo 'minikube version: v1.34.0'; echo 'commit: 210b148df93a80eb872ecbeb7e35281b3c582c61'";
pub const HELM_VERSION: &str = "echo 'v3.17.3+ge4da497'";
pub const KUBECTL_VERSION: &str =
    "echo 'Client Version: v1.32.4-dispatcher'; echo 'Kustomize Version: v5.5.0'";
