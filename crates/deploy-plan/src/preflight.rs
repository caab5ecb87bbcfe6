//! Preflight: are the tools a plan needs on PATH, with usable versions? Runs before anything
//! changes, and reports every problem at once with how to fix it.
//!
//! Documented errors (tests assert them):
//! - missing: ``helm not found on PATH: install helm >= 3.16.0 (https://helm.sh/docs/intro/install/) or
//!   enter `nix develop`, which provides minikube, helm, kubectl and skopeo``
//! - too old: ``helm 3.15.0 (/path/helm) is too old: need >= 3.16.0; upgrade it or enter `nix develop` ``
//! - no driver: ``no minikube driver found: ...``

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::version::{Version, parse_version};

/// A tool some plan needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    Minikube,
    Helm,
    Kubectl,
    Skopeo,
    Nix,
}

impl Tool {
    pub fn program(self) -> &'static str {
        match self {
            Tool::Minikube => "minikube",
            Tool::Helm => "helm",
            Tool::Kubectl => "kubectl",
            Tool::Skopeo => "skopeo",
            Tool::Nix => "nix",
        }
    }

    /// Arguments that print the version without touching anything.
    pub fn version_args(self) -> &'static [&'static str] {
        match self {
            Tool::Minikube => &["version"],
            Tool::Helm => &["version", "--short"],
            Tool::Kubectl => &["version", "--client"],
            Tool::Skopeo | Tool::Nix => &["--version"],
        }
    }

    /// The oldest version the plans work with (helm 3.16: `--ignore-not-found` on uninstall and
    /// current `--wait` semantics; minikube 1.33: `image load` of OCI archives; kubectl 1.28:
    /// skew with current minikube Kubernetes; Nix 2.31.2: the oldest the pinned crane supports,
    /// per its CHANGELOG).
    pub fn minimum(self) -> Version {
        match self {
            Tool::Minikube => Version::new(1, 33, 0),
            Tool::Helm => Version::new(3, 16, 0),
            Tool::Kubectl => Version::new(1, 28, 0),
            Tool::Skopeo => Version::new(1, 9, 0),
            Tool::Nix => Version::new(2, 31, 2),
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Minikube => "https://minikube.sigs.k8s.io/docs/start/",
            Tool::Helm => "https://helm.sh/docs/intro/install/",
            Tool::Kubectl => "https://kubernetes.io/docs/tasks/tools/",
            Tool::Skopeo => "`apt-get install skopeo` or your package manager",
            Tool::Nix => "https://nixos.org/download/",
        }
    }
}

/// What preflight found for one tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolState {
    Ok {
        path: PathBuf,
        version: Version,
    },
    Missing,
    TooOld {
        path: PathBuf,
        version: Version,
    },
    /// Found but its version could not be read (it failed or printed something unexpected).
    Unusable {
        path: PathBuf,
        detail: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCheck {
    pub tool: Tool,
    pub state: ToolState,
}

impl ToolCheck {
    pub fn ok(tool: Tool, version: Version) -> ToolCheck {
        ToolCheck {
            tool,
            state: ToolState::Ok {
                path: PathBuf::from(tool.program()),
                version,
            },
        }
    }

    pub fn version(&self) -> Option<Version> {
        match &self.state {
            ToolState::Ok { version, .. } | ToolState::TooOld { version, .. } => Some(*version),
            _ => None,
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self.state, ToolState::Ok { .. })
    }

    /// The error when the tool is required and not usable.
    pub fn problem(&self) -> Option<String> {
        let name = self.tool.program();
        let minimum = self.tool.minimum();
        match &self.state {
            ToolState::Ok { .. } => None,
            ToolState::Missing => Some(format!(
                "{name} not found on PATH: install {name} >= {minimum} ({}) or enter `nix develop`, which provides \
                 minikube, helm, kubectl and skopeo",
                self.tool.install_hint()
            )),
            ToolState::TooOld { path, version } => Some(format!(
                "{name} {version} ({}) is too old: need >= {minimum}; upgrade it or enter `nix develop`",
                path.display()
            )),
            ToolState::Unusable { path, detail } => Some(format!(
                "{name} ({}) does not report a version ({detail}); reinstall it or enter `nix develop`",
                path.display()
            )),
        }
    }

    /// One line for the dry run's facts.
    pub fn summary(&self) -> String {
        let name = self.tool.program();
        match &self.state {
            ToolState::Ok { path, version } => {
                format!(
                    "{name} {version} at {} (ok, need >= {})",
                    path.display(),
                    self.tool.minimum()
                )
            }
            ToolState::Missing => format!("{name}: not found on PATH"),
            ToolState::TooOld { path, version } => {
                format!(
                    "{name} {version} at {}: too old, need >= {}",
                    path.display(),
                    self.tool.minimum()
                )
            }
            ToolState::Unusable { path, detail } => {
                format!("{name} at {}: unusable ({detail})", path.display())
            }
        }
    }
}

/// The first executable file named `program` in the directories of `path` (a PATH value).
pub fn find_on_path(program: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs a read-only command found on `path`; `None` when the program is not there.
pub fn probe(
    program: &str,
    args: &[&str],
    path: &OsStr,
) -> Option<(PathBuf, std::io::Result<std::process::Output>)> {
    let resolved = find_on_path(program, path)?;
    let output = Command::new(&resolved)
        .args(args)
        .env("PATH", path)
        .output();
    Some((resolved, output))
}

/// Looks `tool` up on `path` and checks its version.
pub fn check_tool(tool: Tool, path: &OsStr) -> ToolCheck {
    let state = match probe(tool.program(), tool.version_args(), path) {
        None => ToolState::Missing,
        Some((path, Err(error))) => ToolState::Unusable {
            path,
            detail: error.to_string(),
        },
        Some((path, Ok(output))) => {
            let text = String::from_utf8_lossy(&output.stdout);
            match parse_version(&text) {
                _ if !output.status.success() => ToolState::Unusable {
                    path,
                    detail: format!(
                        "`{}` exited with {}",
                        tool.version_args().join(" "),
                        output.status
                    ),
                },
                Some(version) if version < tool.minimum() => ToolState::TooOld { path, version },
                Some(version) => ToolState::Ok { path, version },
                None => ToolState::Unusable {
                    path,
                    detail: format!("unexpected output {:?}", text.trim()),
                },
            }
        }
    };
    ToolCheck { tool, state }
}

/// A minikube driver: the container or VM runtime minikube's node runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Docker,
    Podman,
    Kvm2,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Docker => "docker",
            Driver::Podman => "podman",
            Driver::Kvm2 => "kvm2",
        }
    }
}

/// What driver detection found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverCheck {
    Found {
        driver: Driver,
        version: Version,
    },
    /// Nothing usable; each entry says what was tried and what went wrong.
    NotFound {
        tried: Vec<String>,
    },
    /// Not needed: the minikube profile exists and keeps its driver.
    NotNeeded,
}

impl DriverCheck {
    pub fn problem(&self) -> Option<String> {
        match self {
            DriverCheck::NotFound { tried } => Some(format!(
                "no minikube driver found ({}): install and start Docker (or Podman, or libvirt for kvm2); \
                 `docker version` must reach the daemon",
                tried.join("; ")
            )),
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        match self {
            DriverCheck::Found { driver, version } => {
                format!("minikube driver: {} {version}", driver.name())
            }
            DriverCheck::NotFound { tried } => {
                format!("minikube driver: none usable ({})", tried.join("; "))
            }
            DriverCheck::NotNeeded => "minikube driver: kept by the existing profile".to_string(),
        }
    }
}

/// Finds a working minikube driver, in minikube's own order of preference: Docker (daemon
/// reachable), Podman, then kvm2 (libvirt's `virsh`).
pub fn detect_driver(path: &OsStr) -> DriverCheck {
    let candidates: [(Driver, &str, &[&str]); 3] = [
        (
            Driver::Docker,
            "docker",
            &["version", "--format", "{{.Server.Version}}"],
        ),
        (
            Driver::Podman,
            "podman",
            &["version", "--format", "{{.Version}}"],
        ),
        (Driver::Kvm2, "virsh", &["--version"]),
    ];
    let mut tried = Vec::new();
    for (driver, program, args) in candidates {
        match probe(program, args, path) {
            None => tried.push(format!("{program}: not on PATH")),
            Some((_, Err(error))) => tried.push(format!("{program}: {error}")),
            Some((_, Ok(output))) if !output.status.success() => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let first = stderr.lines().next().unwrap_or("failed").trim().to_string();
                tried.push(format!("{program}: {first}"));
            }
            Some((_, Ok(output))) => {
                match parse_version(&String::from_utf8_lossy(&output.stdout)) {
                    Some(version) => return DriverCheck::Found { driver, version },
                    None => tried.push(format!("{program}: no version in its output")),
                }
            }
        }
    }
    DriverCheck::NotFound { tried }
}

/// Everything preflight found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    /// Tools the plan requires.
    pub required: Vec<ToolCheck>,
    /// Tools it uses when present (e.g. nix with `--images auto`).
    pub optional: Vec<ToolCheck>,
    pub driver: DriverCheck,
    /// Other problems (e.g. a values file that does not exist).
    pub other_problems: Vec<String>,
}

impl Preflight {
    /// Checks the required and optional tools on `path`; the driver only when `need_driver`.
    pub fn run(required: &[Tool], optional: &[Tool], need_driver: bool, path: &OsStr) -> Preflight {
        Preflight {
            required: required
                .iter()
                .map(|tool| check_tool(*tool, path))
                .collect(),
            optional: optional
                .iter()
                .map(|tool| check_tool(*tool, path))
                .collect(),
            driver: if need_driver {
                detect_driver(path)
            } else {
                DriverCheck::NotNeeded
            },
            other_problems: Vec::new(),
        }
    }

    /// Every reason not to start, in a stable order.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .required
            .iter()
            .filter_map(ToolCheck::problem)
            .collect();
        problems.extend(self.driver.problem());
        problems.extend(self.other_problems.iter().cloned());
        problems
    }

    pub fn tool(&self, tool: Tool) -> Option<&ToolCheck> {
        self.required
            .iter()
            .chain(&self.optional)
            .find(|check| check.tool == tool)
    }

    /// Usable (present, recent enough).
    pub fn has(&self, tool: Tool) -> bool {
        self.tool(tool).is_some_and(ToolCheck::is_ok)
    }

    /// One line per check, for the dry run.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.required.iter().map(ToolCheck::summary).collect();
        lines.extend(
            self.optional
                .iter()
                .map(|check| format!("{} (optional)", check.summary())),
        );
        if self.driver != DriverCheck::NotNeeded {
            lines.push(self.driver.summary());
        }
        lines
    }
}

/// `<root>/.tools/bin` (where `.ci/install` puts tools) in front of `path`.
pub fn path_with_project_tools(root: &Path, path: Option<OsString>) -> OsString {
    let mut dirs = vec![root.join(".tools").join("bin")];
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}
