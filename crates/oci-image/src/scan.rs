//! Looks through an image for things that must never ship: shells, package managers and
//! secrets.
//!
//! - Shells and package managers: by file name anywhere in any layer, plus the package
//!   databases they leave behind.
//! - Secret values: the bytes of each value, in every file of every layer (binaries included)
//!   and in the config.
//! - Secret names: the config's `Env` must not set them, and no text file may assign them
//!   (`NAME=`), which is what a leaked `.env` file looks like. Binaries legitimately contain
//!   the names of the variables they read, so they are only searched for values.

use crate::archive::OciArchive;
use std::fmt;

/// Executable names of shells (and multi-call binaries that provide one).
pub const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox",
    "nu", "pwsh",
];

/// Executable names of package managers.
pub const PACKAGE_MANAGERS: &[&str] = &[
    "apt", "apt-get", "aptitude", "dpkg", "apk", "rpm", "yum", "dnf", "microdnf", "zypper",
    "pacman", "pip", "pip3", "npm", "yarn", "nix", "nix-env", "opkg", "emerge",
];

/// Directories only a package manager leaves behind.
pub const PACKAGE_DATABASES: &[&str] = &[
    "var/lib/dpkg/",
    "var/lib/apt/",
    "lib/apk/",
    "var/lib/rpm/",
    "nix/var/nix/",
];

/// A secret the image must not contain: its variable name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub value: String,
}

impl Secret {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Secret {
        Secret {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Something found that must not be in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `layer N` or `config`.
    pub place: String,
    pub path: String,
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.place, self.path, self.reason)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Every forbidden thing in `archive`; empty means clean.
///
/// Secrets with values shorter than 8 bytes are ignored: such short strings occur by chance in
/// any binary, and no real secret is that short.
pub fn scan(archive: &OciArchive, secrets: &[Secret]) -> Vec<Finding> {
    let secrets: Vec<&Secret> = secrets.iter().filter(|s| s.value.len() >= 8).collect();
    let mut findings = Vec::new();
    for (i, layer) in archive.layers.iter().enumerate() {
        let place = format!("layer {i}");
        for entry in &layer.entries {
            let path = entry.path.trim_start_matches("./");
            let base = path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(path);
            let mut found = |reason: String| {
                findings.push(Finding {
                    place: place.clone(),
                    path: path.to_owned(),
                    reason,
                })
            };
            if SHELLS.contains(&base) {
                found("a shell".into());
            }
            if PACKAGE_MANAGERS.contains(&base) {
                found("a package manager".into());
            }
            if let Some(db) = PACKAGE_DATABASES.iter().find(|db| {
                let dir = format!("{path}/");
                dir.starts_with(*db)
            }) {
                found(format!("a package database ({db})"));
            }
            for secret in &secrets {
                if contains(&entry.data, secret.value.as_bytes()) {
                    found(format!("contains the value of secret {}", secret.name));
                }
                let assignment = format!("{}=", secret.name);
                if !is_elf(&entry.data) && contains(&entry.data, assignment.as_bytes()) {
                    found(format!("assigns secret {} ({assignment}...)", secret.name));
                }
            }
        }
    }
    let config_text = archive.config_json.to_string();
    let env = archive
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    for secret in &secrets {
        if contains(config_text.as_bytes(), secret.value.as_bytes()) {
            findings.push(Finding {
                place: "config".into(),
                path: "config.json".into(),
                reason: format!("contains the value of secret {}", secret.name),
            });
        }
        if env
            .iter()
            .any(|e| e.split_once('=').map(|(k, _)| k) == Some(secret.name.as_str()))
        {
            findings.push(Finding {
                place: "config".into(),
                path: "Env".into(),
                reason: format!("sets secret {} in the image environment", secret.name),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::image::{ImageInputs, build_image};
    use crate::layer::TarBuilder;

    fn archive_with(payload: &[u8], extra: Option<(&str, &[u8])>, env: Option<&str>) -> OciArchive {
        let mut spec = crate::image::tests::spec();
        if let Some(kv) = env {
            let (k, v) = kv.split_once('=').unwrap();
            spec.env.insert(k.into(), v.into());
        }
        let binary = crate::image::tests::fake_binary(payload);
        let base = crate::image::tests::base();
        let mut image = build_image(&ImageInputs {
            spec: &spec,
            binary: &binary,
            base: &base,
            epoch: 1,
        })
        .unwrap();
        if let Some((path, data)) = extra {
            // Replace the binary layer with one that also holds `path`, keeping the archive
            // self-consistent so only the scan can object.
            let mut tree = TarBuilder::new();
            tree.file("bin/demo", binary.clone(), 0o755).unwrap();
            tree.file(path, data.to_vec(), 0o755).unwrap();
            let tar = tree.to_tar(1).unwrap();
            let mut layer = image.layers[1].clone();
            layer.diff_id = crate::digest::sha256_digest(&tar);
            layer.blob.data = crate::gzip::gzip(&tar);
            layer.blob.digest = crate::digest::sha256_digest(&layer.blob.data);
            image.layers[1] = layer;
            let mut config: serde_json::Value = serde_json::from_slice(&image.config.data).unwrap();
            config["rootfs"]["diff_ids"][1] = image.layers[1].diff_id.clone().into();
            image.config.data = serde_json::to_vec(&config).unwrap();
            image.config.digest = crate::digest::sha256_digest(&image.config.data);
            let mut manifest: serde_json::Value =
                serde_json::from_slice(&image.manifest.data).unwrap();
            manifest["config"]["digest"] = image.config.digest.clone().into();
            manifest["config"]["size"] = image.config.data.len().into();
            manifest["layers"][1]["digest"] = image.layers[1].blob.digest.clone().into();
            manifest["layers"][1]["size"] = image.layers[1].blob.data.len().into();
            image.manifest.data = serde_json::to_vec(&manifest).unwrap();
            image.manifest.digest = crate::digest::sha256_digest(&image.manifest.data);
        }
        crate::archive::parse_archive(&image.archive_bytes().unwrap()).unwrap()
    }

    #[test]
    fn a_clean_image_passes() {
        let archive = archive_with(b"harmless", None, None);
        let secrets = [Secret::new(
            "JWT_SECRET",
            "ci-jwt-secret-0123456789abcdef0123456789",
        )];
        assert_eq!(scan(&archive, &secrets), []);
    }

    #[test]
    fn shells_and_package_managers_are_found() {
        let sh = archive_with(b"x", Some(("bin/sh", b"\x7fELF")), None);
        let findings = scan(&sh, &[]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].reason.contains("shell"));
        let apt = archive_with(b"x", Some(("usr/bin/apt-get", b"\x7fELF")), None);
        assert!(
            scan(&apt, &[])
                .iter()
                .any(|f| f.reason.contains("package manager"))
        );
        let db = archive_with(b"x", Some(("var/lib/dpkg/status", b"Package: x")), None);
        assert!(
            scan(&db, &[])
                .iter()
                .any(|f| f.reason.contains("package database"))
        );
    }

    #[test]
    fn secret_values_are_found_in_binaries() {
        let secret = Secret::new("JWT_SECRET", "ci-jwt-secret-0123456789abcdef0123456789");
        let archive = archive_with(
            b"...ci-jwt-secret-0123456789abcdef0123456789...",
            None,
            None,
        );
        let findings = scan(&archive, std::slice::from_ref(&secret));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].path, "bin/demo");
    }

    #[test]
    fn secret_names_in_binaries_are_fine_but_assignments_in_text_are_not() {
        let secret = Secret::new("JWT_SECRET", "ci-jwt-secret-0123456789abcdef0123456789");
        let binary = archive_with(b"reads JWT_SECRET=", None, None);
        assert_eq!(scan(&binary, std::slice::from_ref(&secret)), []);
        let env_file = archive_with(
            b"x",
            Some(("app/.env", b"JWT_SECRET=hunter2hunter2\n")),
            None,
        );
        let findings = scan(&env_file, std::slice::from_ref(&secret));
        assert!(
            findings.iter().any(|f| f.path == "app/.env"),
            "{findings:?}"
        );
    }

    #[test]
    fn secrets_in_the_config_env_are_found() {
        let secret = Secret::new("DATABASE_URL", "postgres://u:pw-0123456789@db/x");
        let archive = archive_with(
            b"x",
            None,
            Some("DATABASE_URL=postgres://u:pw-0123456789@db/x"),
        );
        let findings = scan(&archive, &[secret]);
        assert!(findings.iter().any(|f| f.path == "Env"), "{findings:?}");
        assert!(
            findings.iter().any(|f| f.path == "config.json"),
            "{findings:?}"
        );
    }
}
