//! What a plan is built from besides the options: the tools (preflight), the minikube profile,
//! the kube context, the image manifest and which images the cluster already has.
//!
//! The parsers are pure and tested on real outputs; `gather_*` runs the read-only probes.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::preflight::{Preflight, probe};

/// The minikube profile's state, from `minikube -p NAME status -o json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileState {
    Running,
    /// Exists but is stopped (or only partly up): `minikube start` resumes it.
    Stopped,
    Absent,
    /// minikube is not available to ask.
    Unknown,
}

#[derive(Deserialize)]
struct MinikubeStatus {
    #[serde(rename = "Host", default)]
    host: String,
    #[serde(rename = "APIServer", default)]
    api_server: String,
}

/// Reads `minikube -p NAME status -o json` (exit code included: 85 means no such profile).
/// Multi-node profiles print an array; the first entry is the control plane.
pub fn parse_minikube_status(stdout: &str, exit_code: Option<i32>) -> ProfileState {
    if exit_code == Some(85) || stdout.contains("not found") {
        return ProfileState::Absent;
    }
    let trimmed = stdout.trim();
    let status: Option<MinikubeStatus> = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<MinikubeStatus>>(trimmed)
            .ok()
            .and_then(|mut all| {
                if all.is_empty() {
                    None
                } else {
                    Some(all.remove(0))
                }
            })
    } else {
        serde_json::from_str(trimmed).ok()
    };
    match status {
        Some(status) if status.host == "Nonexistent" => ProfileState::Absent,
        Some(status) if status.host == "Running" && status.api_server == "Running" => {
            ProfileState::Running
        }
        Some(_) => ProfileState::Stopped,
        None => ProfileState::Unknown,
    }
}

/// Enabled addons, from `minikube -p NAME addons list -o json`.
pub fn parse_enabled_addons(stdout: &str) -> Option<BTreeSet<String>> {
    let all: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(stdout.trim()).ok()?;
    Some(
        all.into_iter()
            .filter(|(_, addon)| addon.get("Status").and_then(|s| s.as_str()) == Some("enabled"))
            .map(|(name, _)| name)
            .collect(),
    )
}

/// A reference in its fully qualified form, as the container runtimes list them:
/// `todo-api:1` -> `docker.io/library/todo-api:1`, `me/app:1` -> `docker.io/me/app:1`.
pub fn normalize_reference(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let has_registry = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        reference.to_string()
    } else if reference.contains('/') {
        format!("docker.io/{reference}")
    } else {
        format!("docker.io/library/{reference}")
    }
}

/// The references `minikube -p NAME image ls` lists, normalized.
pub fn parse_image_list(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(normalize_reference)
        .collect()
}

/// `target/images/manifest.json` (or Nix's `result/manifest.json`): what the image build made.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ImageManifest {
    pub images: Vec<ImageEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ImageEntry {
    /// The crate, e.g. `todo-api`.
    pub service: String,
    /// The image name, e.g. `todo-api`.
    pub name: String,
    pub tag: String,
    /// `name:tag`.
    pub reference: String,
    #[serde(default)]
    pub digest: String,
    /// The OCI archive (multi-platform); relative paths are relative to the manifest's base
    /// (see `parse`).
    pub archive: String,
    #[serde(default)]
    pub size: u64,
    /// One single-platform archive per platform (`docker load` / `minikube image load` take
    /// only these); empty in a manifest from before multi-platform images.
    #[serde(default)]
    pub platforms: Vec<PlatformArchive>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PlatformArchive {
    /// `amd64` or `arm64`.
    pub architecture: String,
    pub archive: String,
    #[serde(default)]
    pub digest: String,
}

impl ImageEntry {
    /// The archive to load onto a node of `architecture`: that platform's own archive, or the
    /// one archive of a single-platform build; `None` when that platform was not built.
    pub fn archive_for(&self, architecture: &str) -> Option<&str> {
        if self.platforms.is_empty() {
            return Some(&self.archive);
        }
        self.platforms
            .iter()
            .find(|p| p.architecture == architecture)
            .map(|p| p.archive.as_str())
    }
}

/// The CPU architectures of the cluster's nodes, from
/// `kubectl get nodes -o jsonpath={.items[*].status.nodeInfo.architecture}` (space-separated).
pub fn parse_node_architectures(stdout: &str) -> BTreeSet<String> {
    stdout.split_whitespace().map(str::to_owned).collect()
}

/// The image platform of a host CPU as Rust names it (`std::env::consts::ARCH`).
pub fn host_architecture(rust_arch: &str) -> Option<&'static str> {
    match rust_arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

impl ImageManifest {
    /// Parses a manifest; relative archive paths are made relative to the project root by
    /// prefixing `archive_base` (`""` for `cargo xtask images`, whose paths already start at the
    /// root; `"result"` for Nix, whose paths are relative to `result/`).
    pub fn parse(text: &str, archive_base: &str) -> anyhow::Result<ImageManifest> {
        let mut manifest: ImageManifest =
            serde_json::from_str(text).context("reading the image manifest")?;
        anyhow::ensure!(
            !manifest.images.is_empty(),
            "the image manifest lists no image"
        );
        let rebase = |archive: &mut String| {
            if !archive_base.is_empty() && !Path::new(archive.as_str()).is_absolute() {
                *archive = format!("{}/{archive}", archive_base.trim_end_matches('/'));
            }
        };
        for image in &mut manifest.images {
            rebase(&mut image.archive);
            for platform in &mut image.platforms {
                rebase(&mut platform.archive);
            }
        }
        Ok(manifest)
    }

    /// Reads `path` if it exists.
    pub fn load(path: &Path, archive_base: &str) -> anyhow::Result<Option<ImageManifest>> {
        match std::fs::read_to_string(path) {
            Ok(text) => ImageManifest::parse(&text, archive_base)
                .with_context(|| format!("in {}", path.display()))
                .map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// Runs a read-only probe and returns (exit code, stdout), or `None` when the program is missing.
pub fn probe_output(program: &str, args: &[&str], path: &OsStr) -> Option<(Option<i32>, String)> {
    let (_, output) = probe(program, args, path)?;
    let output = output.ok()?;
    Some((
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// Which preflight found tools can be asked about the cluster.
/// The driver of `profile` from `minikube profile list -o json`
/// (`{"valid":[{"Name":..,"Config":{"Driver":"docker",..}}],"invalid":[..]}`).
pub fn parse_profile_driver(json: &str, profile: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    ["valid", "invalid"]
        .iter()
        .filter_map(|key| value.get(key)?.as_array())
        .flatten()
        .find(|p| p.get("Name").and_then(|n| n.as_str()) == Some(profile))
        .and_then(|p| p.pointer("/Config/Driver")?.as_str())
        .map(str::to_owned)
}

/// Whether the minikube IP is out of reach from this machine, so the ingress needs
/// `minikube tunnel` and 127.0.0.1: the docker (or podman) driver on macOS or Windows runs the
/// node inside a VM whose network the host cannot route to (minikube's docs on ingress).
pub fn needs_tunnel(host_os: &str, driver: Option<&str>) -> bool {
    matches!(host_os, "macos" | "windows") && matches!(driver, Some("docker" | "podman"))
}

pub fn profile_state(profile: &str, preflight: &Preflight, path: &OsStr) -> ProfileState {
    if !preflight.has(crate::preflight::Tool::Minikube) {
        return ProfileState::Unknown;
    }
    match probe_output("minikube", &["-p", profile, "status", "-o", "json"], path) {
        Some((code, stdout)) => parse_minikube_status(&stdout, code),
        None => ProfileState::Unknown,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn node_architectures_and_host_names() {
        let nodes = parse_node_architectures("amd64 arm64 amd64\n");
        assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["amd64", "arm64"]);
        assert!(parse_node_architectures("").is_empty());
        assert_eq!(host_architecture("aarch64"), Some("arm64"));
        assert_eq!(host_architecture("x86_64"), Some("amd64"));
        assert_eq!(host_architecture("riscv64"), None);
    }

    use super::*;

    #[test]
    fn profile_driver_and_tunnel() {
        let list = r#"{"invalid":[],"valid":[{"Name":"other","Config":{"Driver":"kvm2"}},{"Name":"todo-chatbot","Status":"OK","Config":{"Name":"todo-chatbot","Driver":"docker","Memory":4096}}]}"#;
        assert_eq!(
            parse_profile_driver(list, "todo-chatbot").as_deref(),
            Some("docker")
        );
        assert_eq!(parse_profile_driver(list, "other").as_deref(), Some("kvm2"));
        assert_eq!(parse_profile_driver(list, "nope"), None);
        assert_eq!(parse_profile_driver("not json", "todo-chatbot"), None);
        assert!(needs_tunnel("macos", Some("docker")));
        assert!(needs_tunnel("windows", Some("docker")));
        assert!(
            !needs_tunnel("linux", Some("docker")),
            "Linux routes to the docker network"
        );
        assert!(
            !needs_tunnel("macos", Some("vfkit")),
            "a VM driver has a reachable IP"
        );
        assert!(!needs_tunnel("macos", None));
    }

    #[test]
    fn minikube_status_outputs() {
        let running = r#"{"Name":"todo-chatbot","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false}"#;
        assert_eq!(
            parse_minikube_status(running, Some(0)),
            ProfileState::Running
        );
        let stopped = r#"{"Name":"todo-chatbot","Host":"Stopped","Kubelet":"Stopped","APIServer":"Stopped","Kubeconfig":"Stopped","Worker":false}"#;
        assert_eq!(
            parse_minikube_status(stopped, Some(7)),
            ProfileState::Stopped
        );
        let paused = r#"{"Name":"todo-chatbot","Host":"Running","Kubelet":"Stopped","APIServer":"Paused","Kubeconfig":"Configured","Worker":false}"#;
        assert_eq!(
            parse_minikube_status(paused, Some(2)),
            ProfileState::Stopped
        );
        let missing = "\u{1F937}  Profile \"todo-chatbot\" not found. Run \"minikube profile list\" to view all profiles.\n\
                       \u{1F449}  To start a cluster, run: \"minikube start -p todo-chatbot\"\n";
        assert_eq!(
            parse_minikube_status(missing, Some(85)),
            ProfileState::Absent
        );
        let nonexistent = r#"{"Name":"x","Host":"Nonexistent","Kubelet":"Nonexistent","APIServer":"Nonexistent","Kubeconfig":"Nonexistent"}"#;
        assert_eq!(
            parse_minikube_status(nonexistent, Some(7)),
            ProfileState::Absent
        );
        let multi = r#"[{"Name":"m","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false},{"Name":"m-m02","Host":"Running","Kubelet":"Running","APIServer":"Irrelevant","Kubeconfig":"Irrelevant","Worker":true}]"#;
        assert_eq!(parse_minikube_status(multi, Some(0)), ProfileState::Running);
        assert_eq!(
            parse_minikube_status("garbage", Some(1)),
            ProfileState::Unknown
        );
    }

    #[test]
    fn addons_list_output() {
        let json = r#"{"dashboard":{"Profile":"todo-chatbot","Status":"disabled"},"default-storageclass":{"Profile":"todo-chatbot","Status":"enabled"},"ingress":{"Profile":"todo-chatbot","Status":"enabled"},"metrics-server":{"Profile":"todo-chatbot","Status":"disabled"},"storage-provisioner":{"Profile":"todo-chatbot","Status":"enabled"}}"#;
        let enabled = parse_enabled_addons(json).unwrap_or_default();
        assert_eq!(
            enabled,
            BTreeSet::from([
                "default-storageclass".to_string(),
                "ingress".to_string(),
                "storage-provisioner".to_string()
            ])
        );
        assert_eq!(parse_enabled_addons("not json"), None);
    }

    #[test]
    fn image_list_output_is_normalized() {
        let listed = "registry.k8s.io/pause:3.10\nregistry.k8s.io/kube-apiserver:v1.33.1\n\
                      docker.io/library/todo-api:3f9a2c1d0b7e\ndocker.io/kubernetesui/dashboard:<none>\n\
                      gcr.io/k8s-minikube/storage-provisioner:v5\n";
        let images = parse_image_list(listed);
        assert!(images.contains(&normalize_reference("todo-api:3f9a2c1d0b7e")));
        assert!(!images.contains(&normalize_reference("todo-api:000000000000")));
        assert!(images.contains("registry.k8s.io/pause:3.10"));
        assert_eq!(
            normalize_reference("localhost:5000/todo-api:1"),
            "localhost:5000/todo-api:1"
        );
        assert_eq!(
            normalize_reference("kubernetesui/dashboard:v2"),
            "docker.io/kubernetesui/dashboard:v2"
        );
    }

    #[test]
    fn manifest_paths_for_native_and_nix_builds() {
        let text = r#"{"images":[{"service":"todo-api","name":"todo-api","tag":"3f9a2c1d0b7e","reference":"todo-api:3f9a2c1d0b7e","digest":"sha256:1c2d","archive":"target/images/todo-api.oci.tar","size":5871234}]}"#;
        let native = ImageManifest::parse(text, "").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(native.images[0].archive, "target/images/todo-api.oci.tar");
        assert_eq!(native.images[0].size, 5871234);
        let nix_text = text.replace("target/images/", "");
        let nix = ImageManifest::parse(&nix_text, "result").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(nix.images[0].archive, "result/todo-api.oci.tar");
        assert!(ImageManifest::parse(r#"{"images":[]}"#, "").is_err());
    }
}
