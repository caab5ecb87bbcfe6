//! Locating the external tools and rendering the chart with `helm template`.
//!
//! Tools are looked up in `$TOOLS_BIN`, then `<repo>/.tools/bin` (where the installers in
//! `.ci/install/` put pinned versions), then `PATH`. A missing tool is an error that says
//! which installer to run: the checks never skip.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// The repository root.
pub fn repo_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The chart directory, `<repo>/helm/todo`.
pub fn chart_dir() -> PathBuf {
    repo_root().join("helm").join("todo")
}

/// `<repo>/.tools/bin`.
pub fn tools_bin() -> PathBuf {
    repo_root().join(".tools").join("bin")
}

/// Finds an executable named `name`; `installer` is named in the error when it is missing.
pub fn find_tool(name: &str, installer: &str) -> anyhow::Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("TOOLS_BIN") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(tools_bin());
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    for dir in &dirs {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    bail!(
        "`{name}` not found in $TOOLS_BIN, {} or PATH: run `bash {installer}` (installs into {})",
        tools_bin().display(),
        tools_bin().display()
    )
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Installer of helm, helm3 and kubectl.
pub const HELM_INSTALLER: &str = ".ci/install/10-helm.sh";
/// Installer of kubernetes-validate.
pub const KUBERNETES_VALIDATE_INSTALLER: &str = ".ci/install/11-kubernetes-validate.sh";

/// A `helm` binary of a known major version.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    /// As reported by `helm version`, e.g. "v4.1.4".
    pub version: String,
}

impl Helm {
    /// Helm 4 (`helm`).
    pub fn v4() -> anyhow::Result<Helm> {
        Helm::find("helm", 4)
    }

    /// Helm 3, 3.16 or newer (`helm3`; `.ci/install/10-helm.sh` installs 3.17).
    pub fn v3() -> anyhow::Result<Helm> {
        Helm::find("helm3", 3)
    }

    /// Both majors the chart supports, Helm 4 first.
    pub fn both() -> anyhow::Result<Vec<Helm>> {
        Ok(vec![Helm::v4()?, Helm::v3()?])
    }

    fn find(name: &str, major: u32) -> anyhow::Result<Helm> {
        let path = find_tool(name, HELM_INSTALLER)?;
        let output = Command::new(&path)
            .args(["version", "--template", "{{.Version}}"])
            .output()
            .with_context(|| format!("running {} version", path.display()))?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let numbers: Vec<u32> = version
            .trim_start_matches('v')
            .split(['.', '+', '-'])
            .take(2)
            .filter_map(|part| part.parse().ok())
            .collect();
        let ok = match numbers.as_slice() {
            [found, minor] => *found == major && (major != 3 || *minor >= 16),
            _ => false,
        };
        if !ok {
            bail!(
                "{} reports version {version:?}, expected Helm {major}{}: run `bash {HELM_INSTALLER}`",
                path.display(),
                if major == 3 { " (3.16 or newer)" } else { "" }
            );
        }
        Ok(Helm { path, version })
    }

    /// Runs helm with `args` (and extra environment), returning its output whatever the
    /// exit status.
    pub fn run(&self, args: &[OsString], env: &[(String, String)]) -> anyhow::Result<Output> {
        let mut command = Command::new(&self.path);
        command.args(args).current_dir(repo_root());
        for (key, value) in env {
            command.env(key, value);
        }
        command
            .output()
            .with_context(|| format!("running {}", self.path.display()))
    }

    /// `helm template`; the rendered manifests, or an error with helm's message.
    pub fn template(&self, request: &RenderRequest) -> anyhow::Result<String> {
        let output = self.run(&request.args(), &request.env)?;
        if !output.status.success() {
            bail!(
                "helm {} template ({}) failed: {}",
                self.version,
                request.describe(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8(output.stdout).context("helm template printed invalid UTF-8")
    }

    /// `helm template` that must fail; returns its error output.
    pub fn template_failure(&self, request: &RenderRequest) -> anyhow::Result<String> {
        let output = self.run(&request.args(), &request.env)?;
        if output.status.success() {
            bail!(
                "helm {} template ({}) succeeded, but these values must be rejected",
                self.version,
                request.describe()
            );
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Arguments of one `helm template` run of the chart.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub release: String,
    pub namespace: String,
    pub values_files: Vec<PathBuf>,
    /// `--set key=value` (typed by helm).
    pub set: Vec<String>,
    /// `--set-string key=value`.
    pub set_string: Vec<String>,
    pub skip_tests: bool,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl RenderRequest {
    /// Release "todo" in namespace "todo", chart defaults only.
    pub fn new() -> RenderRequest {
        RenderRequest {
            release: "todo".into(),
            namespace: "todo".into(),
            values_files: Vec::new(),
            set: Vec::new(),
            set_string: Vec::new(),
            skip_tests: false,
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Adds a values file (relative paths are relative to the chart directory).
    pub fn values_file(mut self, file: impl AsRef<Path>) -> RenderRequest {
        self.values_files.push(chart_dir().join(file));
        self
    }

    pub fn set(mut self, assignment: impl Into<String>) -> RenderRequest {
        self.set.push(assignment.into());
        self
    }

    pub fn set_string(mut self, assignment: impl Into<String>) -> RenderRequest {
        self.set_string.push(assignment.into());
        self
    }

    fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "template".into(),
            self.release.clone().into(),
            chart_dir().into(),
            "--namespace".into(),
            self.namespace.clone().into(),
        ];
        for file in &self.values_files {
            args.push("--values".into());
            args.push(file.into());
        }
        for assignment in &self.set {
            args.push("--set".into());
            args.push(assignment.into());
        }
        for assignment in &self.set_string {
            args.push("--set-string".into());
            args.push(assignment.into());
        }
        if self.skip_tests {
            args.push("--skip-tests".into());
        }
        args.extend(self.extra_args.iter().map(OsString::from));
        args
    }

    /// A short description for messages: values files and assignments.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .values_files
            .iter()
            .map(|file| {
                format!(
                    "-f {}",
                    file.file_name()
                        .map(|name| name.to_string_lossy())
                        .unwrap_or_default()
                )
            })
            .collect();
        parts.extend(self.set.iter().map(|a| format!("--set {a}")));
        parts.extend(self.set_string.iter().map(|a| format!("--set-string {a}")));
        if parts.is_empty() {
            parts.push("chart defaults".into());
        }
        parts.join(" ")
    }
}

impl Default for RenderRequest {
    fn default() -> Self {
        RenderRequest::new()
    }
}
