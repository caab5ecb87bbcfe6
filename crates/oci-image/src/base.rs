//! The base layer every service image shares: just enough of a root filesystem for a static
//! binary, and nothing to run besides it (no shell, no package manager, no libc).
//!
//! - `/etc/passwd`, `/etc/group`: root and the numeric non-root user the image runs as, so
//!   user-name lookups succeed; both have `/sbin/nologin` (which does not exist) as shell.
//! - `/etc/nsswitch.conf`: `hosts: files dns`, so static glibc consults the `/etc/hosts`
//!   Kubernetes mounts before DNS.
//! - `/etc/ssl/certs/ca-certificates.crt`: the Mozilla CA bundle, so TLS to external services
//!   (Neon, an OpenAI-compatible API) verifies from inside the image. It is copied from the
//!   build host's Debian `ca-certificates` package; its version is recorded in the image
//!   history, and the package's copyright file ships next to it.
//! - `/tmp` (1777): the only place the services may write (an emptyDir in Kubernetes, since
//!   the root filesystem is read-only).

use crate::layer::TarBuilder;
use crate::spec::ImageSpec;
use anyhow::{Context, Result, ensure};
use std::path::Path;
use std::process::Command;

/// Where Debian's ca-certificates package puts the concatenated bundle.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Where other hosts keep theirs, tried in order after Debian's: Fedora/RHEL, then macOS
/// (and Alpine, the BSDs).
pub const OTHER_CA_BUNDLES: &[&str] = &["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
/// The package's copyright/license statement (MPL-2.0 for the Mozilla certificate data).
pub const HOST_CA_COPYRIGHT: &str = "/usr/share/doc/ca-certificates/copyright";
/// Path of the bundle inside the image; `SSL_CERT_FILE` in the image env points here.
pub const IMAGE_CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Files the base layer takes from outside the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseFiles {
    /// PEM bundle of trusted CA certificates.
    pub ca_bundle: Vec<u8>,
    /// Its license text, shipped at `/usr/share/doc/ca-certificates/copyright`.
    pub ca_copyright: Option<Vec<u8>>,
    /// Where the bundle came from, e.g. `Debian ca-certificates 20230311+deb12u1`.
    pub ca_provenance: String,
}

impl BaseFiles {
    /// The build host's CA bundle: Debian's, else the first of [`OTHER_CA_BUNDLES`] (so
    /// images build on Fedora or macOS too); fails with a fix if there is none.
    pub fn from_host() -> Result<BaseFiles> {
        if !Path::new(HOST_CA_BUNDLE).exists()
            && let Some(other) = OTHER_CA_BUNDLES.iter().find(|p| Path::new(p).is_file())
        {
            let mut files = BaseFiles::from_file(Path::new(other))?;
            files.ca_provenance = format!("host {other}");
            return Ok(files);
        }
        let ca_bundle = std::fs::read(HOST_CA_BUNDLE).with_context(|| {
            format!(
                "reading {HOST_CA_BUNDLE} (nor is any of {}): install it with `apt-get install -y ca-certificates`",
                OTHER_CA_BUNDLES.join(", ")
            )
        })?;
        ensure!(
            ca_bundle
                .windows(27)
                .any(|w| w == b"-----BEGIN CERTIFICATE-----"),
            "{HOST_CA_BUNDLE} holds no PEM certificates"
        );
        let ca_copyright = std::fs::read(HOST_CA_COPYRIGHT).ok();
        let version = Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", "ca-certificates"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty());
        let ca_provenance = match version {
            Some(v) => format!("Debian ca-certificates {v} ({HOST_CA_BUNDLE})"),
            None => format!("host {HOST_CA_BUNDLE} (package version unknown)"),
        };
        Ok(BaseFiles {
            ca_bundle,
            ca_copyright,
            ca_provenance,
        })
    }

    /// A bundle read from an explicit file (tests, or a pinned bundle).
    pub fn from_file(path: &Path) -> Result<BaseFiles> {
        let ca_bundle =
            std::fs::read(path).with_context(|| format!("reading CA bundle {}", path.display()))?;
        Ok(BaseFiles {
            ca_bundle,
            ca_copyright: None,
            ca_provenance: format!("file {}", path.display()),
        })
    }
}

/// `/etc/passwd` with root and the image's non-root user.
pub fn passwd(spec: &ImageSpec) -> String {
    format!(
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{}:{}:nonroot:/home/nonroot:/sbin/nologin\n",
        spec.user, spec.group
    )
}

/// `/etc/group` with root and the image's non-root group.
pub fn group(spec: &ImageSpec) -> String {
    format!("root:x:0:\nnonroot:x:{}:\n", spec.group)
}

pub const NSSWITCH: &str = "passwd: files\ngroup: files\nhosts: files dns\n";

/// The base layer's file tree.
pub fn base_tree(spec: &ImageSpec, files: &BaseFiles) -> Result<TarBuilder> {
    let mut tree = TarBuilder::new();
    tree.file("etc/passwd", passwd(spec), 0o644)?
        .file("etc/group", group(spec), 0o644)?
        .file("etc/nsswitch.conf", NSSWITCH, 0o644)?
        .file(IMAGE_CA_BUNDLE, files.ca_bundle.clone(), 0o644)?
        .dir("tmp", 0o1777)?;
    // The home directory in /etc/passwd exists and belongs to the user, as tools expect.
    tree.insert(
        "home/nonroot",
        crate::layer::EntryKind::Dir,
        0o700,
        spec.user,
        spec.group,
    )?;
    if let Some(copyright) = &files.ca_copyright {
        tree.file(
            "usr/share/doc/ca-certificates/copyright",
            copyright.clone(),
            0o644,
        )?;
    }
    Ok(tree)
}

/// The binary layer's file tree: `/bin/<binary>`, mode 0755.
pub fn binary_tree(spec: &ImageSpec, binary: &[u8]) -> Result<TarBuilder> {
    let mut tree = TarBuilder::new();
    tree.file(&format!("bin/{}", spec.binary), binary.to_vec(), 0o755)?;
    Ok(tree)
}
