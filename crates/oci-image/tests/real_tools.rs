//! The assembler against the real tools: a static HTTP server (examples/tiny_http.rs) is packed
//! into an image, which skopeo must accept, umoci must unpack and runc must run read-only as
//! uid 65532 on the host network, answering /livez and /readyz and exiting 0 on SIGTERM. This
//! is the same recipe `cargo xtask ci` applies to the service images.
//!
//! The tools are required: a missing one fails the test with the command that installs it.

#![allow(clippy::unwrap_used)]

use oci_image::runc::{self, RunSettings, Runc};
use oci_image::{BaseFiles, ImageInputs, ImageSpec, build_image, read_archive, tools};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds examples/tiny_http.rs as a static executable in a target dir of its own (kept
/// between runs, so only the first run pays for compiling tokio).
fn build_tiny_http() -> Vec<u8> {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-http-static");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--package",
            "oci-image",
            "--example",
            "tiny_http",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Static glibc needs an explicit --target (so proc macros still link dynamically).
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=symbols",
        )
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the static tiny_http example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(target_dir.join("x86_64-unknown-linux-gnu/debug/examples/tiny_http")).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spec(port: u16) -> ImageSpec {
    let text = format!(
        r#"
[package]
name = "tiny-http"
[package.metadata.image]
name = "tiny-http"
binary = "tiny_http"
entrypoint = ["/bin/tiny_http"]
cmd = ["serve"]
ports = [{port}]
user = 65532
group = 65532
env = {{ PORT = "{port}", SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt" }}
[package.metadata.image.labels]
"org.opencontainers.image.title" = "tiny-http"
"#
    );
    oci_image::spec::parse_manifest(&text).unwrap().unwrap().1
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new(tools::require("skopeo").unwrap())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_real_image_passes_skopeo_umoci_and_runc() {
    for tool in ["skopeo", "umoci", "runc"] {
        if let Err(e) = tools::require(tool) {
            panic!("{e}");
        }
    }
    let binary = build_tiny_http();
    let port = free_port();
    let spec = spec(port);
    let base = BaseFiles::from_host().unwrap();
    let inputs = ImageInputs {
        spec: &spec,
        binary: &binary,
        base: &base,
        epoch: 1_700_000_000,
    };
    let image = build_image(&inputs).unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("tiny-http.oci.tar");
    let size = image.write_archive(&archive).unwrap();
    assert_eq!(std::fs::metadata(&archive).unwrap().len(), size);

    // Rebuilding from the same inputs gives the same file, byte for byte.
    let again = build_image(&inputs).unwrap().archive_bytes().unwrap();
    assert_eq!(std::fs::read(&archive).unwrap(), again);

    // Our own reader verifies every digest.
    let read = read_archive(&archive).unwrap();
    assert_eq!(read.manifest_digest, image.manifest.digest);

    // skopeo reads the OCI side and agrees on the digest, platform and layers.
    let location = format!("oci-archive:{}", archive.display());
    let out = skopeo(&["inspect", &location]);
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspect: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Digest"], image.manifest.digest.as_str());
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.title"],
        "tiny-http"
    );
    let out = skopeo(&["inspect", "--config", &location]);
    assert!(
        out.status.success(),
        "skopeo inspect --config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");

    // ...and rejects the archive once a blob no longer matches its digest.
    let mut tampered = std::fs::read(&archive).unwrap();
    let needle = &image.config.data[..64];
    let at = tampered
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    tampered[at + 30] ^= 0x01;
    let bad = work.path().join("tampered.oci.tar");
    std::fs::write(&bad, tampered).unwrap();
    let out = skopeo(&[
        "inspect",
        "--config",
        &format!("oci-archive:{}", bad.display()),
    ]);
    assert!(
        !out.status.success(),
        "skopeo accepted a blob that does not match its digest"
    );

    // umoci + runc: the image runs read-only, as 65532, on the host network.
    let bundle = runc::unpack(&archive, &work.path().join("unpacked")).unwrap();
    assert!(bundle.join("rootfs/bin/tiny_http").is_file());
    assert!(!bundle.join("rootfs/bin/sh").exists());
    runc::configure_bundle(
        &bundle,
        &RunSettings {
            uid: 65532,
            gid: 65532,
            env: BTreeMap::from([("RUST_LOG".into(), "info".into())]),
            args: None,
            mounts: Vec::new(),
        },
    )
    .unwrap();
    let runc = Runc::new(&work.path().join("runc-state")).unwrap();
    let id = format!("oci-image-test-{}", std::process::id());
    let mut container = runc
        .spawn(&id, &bundle, &work.path().join("container.log"))
        .unwrap();
    container
        .wait_http_ok(port, "/livez", Duration::from_secs(20))
        .unwrap();
    container
        .wait_http_ok(port, "/readyz", Duration::from_secs(5))
        .unwrap();
    let probe = oci_image::http::get(port, "/probe", Duration::from_secs(5)).unwrap();
    assert_eq!(probe.status, 200);
    let facts: BTreeMap<&str, &str> = probe
        .body
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(facts["uid"], "65532", "{}", probe.body);
    assert_eq!(facts["gid"], "65532", "{}", probe.body);
    assert_eq!(facts["root_writable"], "false", "{}", probe.body);
    assert_eq!(facts["tmp_writable"], "true", "{}", probe.body);
    assert_eq!(facts["shell"], "false", "{}", probe.body);
    assert_eq!(facts["resolves_localhost"], "true", "{}", probe.body);
    let certs: usize = facts["ca_certificates"].parse().unwrap();
    assert!(
        certs > 50,
        "only {certs} CA certificates visible in the container"
    );

    let status = container.terminate(Duration::from_secs(10)).unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIGTERM; output:\n{}",
        container.log_tail()
    );
    assert!(
        container.log_tail().contains("SIGTERM"),
        "{}",
        container.log_tail()
    );
}
