//! The image description: `[package.metadata.image]` in a service's `Cargo.toml`.
//!
//! It is parsed with the `toml` crate straight from the file (no `cargo metadata` run), the same
//! way Nix reads it with `builtins.fromTOML`, so both paths see exactly the same table.

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One image, as described in `[package.metadata.image]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Repository name of the image (`todo-api` in `todo-api:<tag>`).
    pub name: String,
    /// Name of the cargo binary copied to `/bin/<binary>`.
    pub binary: String,
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    /// TCP ports the service listens on (`ExposedPorts`).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Numeric uid the process runs as; never 0.
    pub user: u32,
    /// Numeric gid the process runs as; never 0.
    pub group: u32,
    #[serde(default = "default_workdir")]
    pub workdir: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Docker-style health check command (exec form, no shell in the image).
    #[serde(default)]
    pub healthcheck: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_workdir() -> String {
    "/".to_owned()
}

impl ImageSpec {
    /// Path of the binary inside the image.
    pub fn binary_path(&self) -> String {
        format!("/bin/{}", self.binary)
    }

    /// `uid:gid`, the form the OCI config's `User` field takes.
    pub fn user_spec(&self) -> String {
        format!("{}:{}", self.user, self.group)
    }

    /// Rejects descriptions that would produce a broken or unsafe image.
    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
        ensure!(
            name_ok,
            "image name {:?} must be non-empty lowercase [a-z0-9._-] (a Docker repository name)",
            self.name
        );
        ensure!(
            !self.binary.is_empty() && !self.binary.contains('/'),
            "binary {:?} must be a plain file name",
            self.binary
        );
        ensure!(
            self.user != 0 && self.group != 0,
            "image {} must run as a non-root user and group (got {}:{})",
            self.name,
            self.user,
            self.group
        );
        let Some(program) = self.entrypoint.first() else {
            bail!("image {}: entrypoint must not be empty", self.name);
        };
        // The image holds nothing but the binary: an entrypoint naming anything else cannot run.
        ensure!(
            *program == self.binary_path(),
            "image {}: entrypoint starts with {program:?}, but the only program in the image is {}",
            self.name,
            self.binary_path()
        );
        if let Some(check) = self.healthcheck.first() {
            ensure!(
                *check == self.binary_path(),
                "image {}: healthcheck runs {check:?}; the image has no shell or curl, only {}",
                self.name,
                self.binary_path()
            );
        }
        ensure!(
            self.workdir.starts_with('/'),
            "image {}: workdir {:?} must be absolute",
            self.name,
            self.workdir
        );
        for key in self.env.keys() {
            ensure!(
                !key.is_empty() && !key.contains('='),
                "image {}: bad env name {key:?}",
                self.name
            );
        }
        Ok(())
    }
}

/// A workspace package that has an image description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceImage {
    /// Cargo package name (what `cargo build -p` takes).
    pub package: String,
    pub manifest_path: PathBuf,
    pub spec: ImageSpec,
}

#[derive(Deserialize)]
struct CargoToml {
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    image: Option<ImageSpec>,
}

/// Parses the text of a `Cargo.toml`; `None` when the package describes no image.
pub fn parse_manifest(text: &str) -> Result<Option<(String, ImageSpec)>> {
    let parsed: CargoToml = toml::from_str(text).context("parsing Cargo.toml")?;
    let Some(package) = parsed.package else {
        return Ok(None);
    };
    let Some(spec) = package.metadata.and_then(|m| m.image) else {
        return Ok(None);
    };
    spec.validate()
        .with_context(|| format!("[package.metadata.image] of package {}", package.name))?;
    Ok(Some((package.name, spec)))
}

/// Reads one `Cargo.toml`; `None` when it describes no image.
pub fn read_service(manifest_path: &Path) -> Result<Option<ServiceImage>> {
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let parsed =
        parse_manifest(&text).with_context(|| format!("in {}", manifest_path.display()))?;
    Ok(parsed.map(|(package, spec)| ServiceImage {
        package,
        manifest_path: manifest_path.to_path_buf(),
        spec,
    }))
}

/// Every `crates/*/Cargo.toml` with `[package.metadata.image]`, sorted by package name.
pub fn discover_services(workspace_root: &Path) -> Result<Vec<ServiceImage>> {
    let crates = workspace_root.join("crates");
    let mut found = Vec::new();
    let dir =
        std::fs::read_dir(&crates).with_context(|| format!("listing {}", crates.display()))?;
    for entry in dir {
        let manifest = entry?.path().join("Cargo.toml");
        if manifest.is_file()
            && let Some(service) = read_service(&manifest)?
        {
            found.push(service);
        }
    }
    found.sort_by(|a, b| a.package.cmp(&b.package));
    for pair in found.windows(2) {
        ensure!(
            pair[0].spec.name != pair[1].spec.name,
            "two packages describe an image named {}",
            pair[0].spec.name
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const API: &str = r#"
[package]
name = "todo-api"
version = "0.1.0"

[package.metadata.image]
name = "todo-api"
binary = "todo-api"
entrypoint = ["/bin/todo-api"]
cmd = ["serve"]
ports = [8080]
user = 65532
group = 65532
workdir = "/"
env = { PORT = "8080", LOG_FORMAT = "json" }
healthcheck = ["/bin/todo-api", "healthcheck"]

[package.metadata.image.labels]
"org.opencontainers.image.title" = "todo-api"
"#;

    #[test]
    fn parses_the_service_description() {
        let (package, spec) = parse_manifest(API).unwrap().unwrap();
        assert_eq!(package, "todo-api");
        assert_eq!(spec.binary_path(), "/bin/todo-api");
        assert_eq!(spec.user_spec(), "65532:65532");
        assert_eq!(spec.cmd, ["serve"]);
        assert_eq!(spec.ports, [8080]);
        assert_eq!(spec.env.get("LOG_FORMAT").map(String::as_str), Some("json"));
        assert_eq!(spec.labels.len(), 1);
    }

    #[test]
    fn packages_without_an_image_are_skipped() {
        assert!(
            parse_manifest("[package]\nname = \"x\"\n")
                .unwrap()
                .is_none()
        );
        assert!(parse_manifest("[workspace]\n").unwrap().is_none());
    }

    #[test]
    fn root_user_is_rejected() {
        let text = API.replace("user = 65532", "user = 0");
        let err = format!("{:#}", parse_manifest(&text).unwrap_err());
        assert!(err.contains("non-root"), "{err}");
    }

    #[test]
    fn entrypoint_must_be_the_binary() {
        let text = API.replace(
            r#"entrypoint = ["/bin/todo-api"]"#,
            r#"entrypoint = ["/bin/sh", "-c"]"#,
        );
        let err = format!("{:#}", parse_manifest(&text).unwrap_err());
        assert!(err.contains("only program"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = API.replace("workdir = \"/\"", "workdir = \"/\"\nshell = \"/bin/sh\"");
        assert!(parse_manifest(&text).is_err());
    }

    #[test]
    fn the_repository_services_all_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let services = discover_services(&root).unwrap();
        let names: Vec<_> = services.iter().map(|s| s.spec.name.as_str()).collect();
        for expected in ["todo-api", "todo-mcp", "todo-web"] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
    }
}
