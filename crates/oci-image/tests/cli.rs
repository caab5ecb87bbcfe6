//! The `oci-image build` command (how Nix assembles the service images) writes exactly what
//! the library, and so `cargo xtask images`, writes for the same description and binary.

#![allow(clippy::unwrap_used)]

use oci_image::{BaseFiles, ImageInputs, build_image, read_archive};
use std::path::{Path, PathBuf};
use std::process::Command;

const CLI: &str = env!("CARGO_BIN_EXE_oci-image");
/// crane's commit time at the pinned revision: any fixed epoch does.
const EPOCH: i64 = 1_785_782_307;
const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// A minimal static ELF64 executable header for `machine` (62 x86-64, 183 AArch64).
fn fake_binary(machine: u16) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2;
    b[5] = 1;
    b[0x10] = 3;
    b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(b"payload");
    b
}

fn service_manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../{name}/Cargo.toml"))
}

struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

fn run(args: &[&std::ffi::OsStr]) -> Run {
    let output = Command::new(CLI)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn build_with_cli(dir: &Path, service: &str, machine: u16) -> (Run, PathBuf) {
    let binary = dir.join("binary");
    std::fs::write(&binary, fake_binary(machine)).unwrap();
    let bundle = dir.join("ca.pem");
    std::fs::write(&bundle, PEM).unwrap();
    let out = dir.join(format!("{service}.oci.tar"));
    let epoch = EPOCH.to_string();
    let manifest = service_manifest(service);
    let run = run(&[
        "build".as_ref(),
        "--manifest".as_ref(),
        manifest.as_os_str(),
        "--binary".as_ref(),
        binary.as_os_str(),
        "--ca-bundle".as_ref(),
        bundle.as_os_str(),
        "--ca-provenance".as_ref(),
        "nixpkgs cacert (test)".as_ref(),
        "--epoch".as_ref(),
        epoch.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    (run, out)
}

#[test]
fn the_command_writes_what_the_library_writes() {
    let dir = tempfile::tempdir().unwrap();
    for service in ["todo-api", "todo-mcp", "todo-web"] {
        let (run, out) = build_with_cli(dir.path(), service, 62);
        assert!(run.status.success(), "{}", run.stderr);
        let spec = oci_image::spec::read_service(&service_manifest(service))
            .unwrap()
            .unwrap()
            .spec;
        let base = BaseFiles {
            ca_bundle: PEM.to_vec(),
            ca_copyright: None,
            ca_provenance: "nixpkgs cacert (test)".into(),
        };
        let image = build_image(&ImageInputs {
            spec: &spec,
            binary: &fake_binary(62),
            base: &base,
            epoch: EPOCH,
        })
        .unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            image.archive_bytes().unwrap(),
            "{service}: the command and the library disagree"
        );
        let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(summary["reference"], image.reference());
        assert_eq!(summary["digest"], image.manifest.digest.as_str());
        assert_eq!(summary["architecture"], "amd64");

        // What skopeo's docker-archive conversion used to lose is there, from the description.
        let archive = read_archive(&out).unwrap();
        let config = &archive.config_json;
        assert_eq!(config["created"], "2026-08-03T18:38:27Z");
        let mut test = vec!["CMD".to_string()];
        test.extend(spec.healthcheck.iter().cloned());
        assert_eq!(
            config["config"]["Healthcheck"]["Test"],
            serde_json::json!(test)
        );
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(spec.entrypoint)
        );
    }
}

#[test]
fn an_aarch64_binary_makes_an_arm64_image() {
    let dir = tempfile::tempdir().unwrap();
    let (run, out) = build_with_cli(dir.path(), "todo-api", 183);
    assert!(run.status.success(), "{}", run.stderr);
    let archive = read_archive(&out).unwrap();
    assert_eq!(archive.config_json["architecture"], "arm64");
    assert_eq!(archive.config_json["os"], "linux");
    let platform = archive.index.manifests()[0].platform().as_ref().unwrap();
    assert_eq!(platform.architecture().to_string(), "arm64");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    // A 32-bit Arm binary: no image platform for it.
    let (result, out) = build_with_cli(dir.path(), "todo-api", 40);
    assert_eq!(result.status.code(), Some(1), "{}", result.stderr);
    assert!(
        result.stderr.contains("ELF machine 40"),
        "{}",
        result.stderr
    );
    assert!(!out.exists());
    // A manifest without an image description (this crate's own).
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let args = [
        "build",
        "--manifest",
        manifest.to_str().unwrap(),
        "--binary",
        "/nonexistent",
        "--ca-bundle",
        "/nonexistent",
        "--epoch",
        "1",
        "--out",
        "/nonexistent/x",
    ];
    let result = run(&args.map(std::ffi::OsStr::new));
    assert_eq!(result.status.code(), Some(1));
    assert!(
        result
            .stderr
            .contains("has no [package.metadata.image] table"),
        "{}",
        result.stderr
    );
    // No --epoch and no SOURCE_DATE_EPOCH: clap names what is missing.
    let result = run_without_epoch();
    assert_eq!(result.status.code(), Some(2));
    assert!(result.stderr.contains("--epoch"), "{}", result.stderr);
}

fn run_without_epoch() -> Run {
    run(&[
        "build",
        "--manifest",
        "m",
        "--binary",
        "b",
        "--ca-bundle",
        "c",
        "--out",
        "o",
    ]
    .map(std::ffi::OsStr::new))
}
