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

/// Where the list of Helm majors that must be installed comes from (`.ci/run` sets `4,3`, so
/// CI always exercises both; elsewhere whatever Helm is installed is enough).
pub const HELM_MAJORS_VAR: &str = "HELM_MAJORS";

/// The names a Helm binary goes by, in order of preference: `helm` is whatever the user has
/// (nixpkgs ships Helm 3, helm.sh Helm 4); `helm4`/`helm3` are second installs of one major.
pub const HELM_NAMES: [&str; 3] = ["helm", "helm4", "helm3"];

/// A supported `helm` binary: Helm 4, or Helm 3 from 3.16 on.
#[derive(Debug, Clone)]
pub struct Helm {
    pub path: PathBuf,
    /// As reported by `helm version`, e.g. "v4.1.4".
    pub version: String,
    /// 3 or 4.
    pub major: u32,
}

/// `(major, minor)` of a `helm version` string such as `v3.17.3+ge4da497`.
pub fn helm_major_minor(version: &str) -> Option<(u32, u32)> {
    let mut numbers = version
        .trim()
        .trim_start_matches('v')
        .split(['.', '+', '-'])
        .map(|part| part.parse::<u32>().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// Whether the chart and the deploy plans support this Helm version (3.16+ or 4).
pub fn helm_supported(version: &str) -> bool {
    matches!(helm_major_minor(version), Some((3, minor)) if minor >= 16)
        || matches!(helm_major_minor(version), Some((4, _)))
}

/// From `(name, version)` of each Helm found (in [`HELM_NAMES`] order), one per major, newest
/// major first; fails when a major listed in `required` is missing or nothing usable is found.
pub fn select_helms(
    found: &[(PathBuf, String)],
    required: &[u32],
) -> anyhow::Result<Vec<(PathBuf, String, u32)>> {
    let mut chosen: Vec<(PathBuf, String, u32)> = Vec::new();
    let mut unsupported = Vec::new();
    for (path, version) in found {
        match helm_major_minor(version) {
            Some((major, _)) if helm_supported(version) => {
                if !chosen.iter().any(|(_, _, m)| *m == major) {
                    chosen.push((path.clone(), version.clone(), major));
                }
            }
            _ => unsupported.push(format!("{} ({version:?})", path.display())),
        }
    }
    chosen.sort_by_key(|c| std::cmp::Reverse(c.2));
    let have: Vec<u32> = chosen.iter().map(|(_, _, m)| *m).collect();
    let missing: Vec<String> = required
        .iter()
        .filter(|m| !have.contains(m))
        .map(|m| format!("Helm {m}"))
        .collect();
    if chosen.is_empty() || !missing.is_empty() {
        let wanted = if missing.is_empty() {
            "Helm 3.16+ or Helm 4".to_string()
        } else {
            format!("{} ({HELM_MAJORS_VAR}={required:?})", missing.join(" and "))
        };
        let mut message = format!(
            "no {wanted} found as {}: run `bash {HELM_INSTALLER}` (installs Helm 4 as `helm` and Helm 3 as `helm3` into {})",
            HELM_NAMES.join(", "),
            tools_bin().display()
        );
        if !unsupported.is_empty() {
            message.push_str(&format!(
                "; unsupported versions found: {}",
                unsupported.join(", ")
            ));
        }
        bail!(message);
    }
    Ok(chosen)
}

/// The majors `HELM_MAJORS` asks for (`4,3`), none when unset.
pub fn required_helm_majors() -> anyhow::Result<Vec<u32>> {
    let Ok(value) = std::env::var(HELM_MAJORS_VAR) else {
        return Ok(Vec::new());
    };
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| match s.trim().parse::<u32>() {
            Ok(m @ (3 | 4)) => Ok(m),
            _ => bail!("{HELM_MAJORS_VAR}={value:?}: list Helm majors, 3 and/or 4 (e.g. `4,3`)"),
        })
        .collect()
}

impl Helm {
    /// `helm` as found first (`$TOOLS_BIN`, `.tools/bin`, `PATH`): whichever supported
    /// major it is. What renders `k8s/` and what single-Helm tests use.
    pub fn primary() -> anyhow::Result<Helm> {
        let path = find_tool("helm", HELM_INSTALLER)?;
        let version = helm_version(&path)?;
        let helms = select_helms(&[(path, version)], &[])?;
        let (path, version, major) = helms.into_iter().next().context("no helm")?;
        Ok(Helm {
            path,
            version,
            major,
        })
    }

    /// Every supported Helm major installed (as `helm`, `helm4` or `helm3`), newest first;
    /// each major that `HELM_MAJORS` lists must be among them.
    pub fn installed() -> anyhow::Result<Vec<Helm>> {
        let mut found = Vec::new();
        for name in HELM_NAMES {
            if let Ok(path) = find_tool(name, HELM_INSTALLER) {
                let version = helm_version(&path)?;
                found.push((path, version));
            }
        }
        Ok(select_helms(&found, &required_helm_majors()?)?
            .into_iter()
            .map(|(path, version, major)| Helm {
                path,
                version,
                major,
            })
            .collect())
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

fn helm_version(path: &Path) -> anyhow::Result<String> {
    let output = Command::new(path)
        .args(["version", "--template", "{{.Version}}"])
        .output()
        .with_context(|| format!("running {} version", path.display()))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}
