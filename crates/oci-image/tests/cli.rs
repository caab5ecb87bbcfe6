//! The `oci-image build` command (how Nix assembles the service images) writes exactly what
//! the library, and so `cargo xtask images`, writes for the same description and binaries.

#![allow(clippy::unwrap_used)]

use oci_image::multi::archive_file_name;
use oci_image::{BaseFiles, CatalogEntry, build_multi_image, read_archive, read_index_archive};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLI: &str = env!("CARGO_BIN_EXE_oci-image");
/// crane's commit time at the pinned revision: any fixed epoch does.
const EPOCH: i64 = 1_785_782_307;
const PEM: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const X86_64: u16 = 62;
const AARCH64: u16 = 183;

/// A minimal static ELF64 executable header for `machine`.
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

fn run(args: &[&OsStr]) -> Run {
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

/// Runs `oci-image build` for `service` with one fake binary per machine in `machines`.
fn build_with_cli(dir: &Path, service: &str, machines: &[u16]) -> Run {
    let bundle = dir.join("ca.pem");
    std::fs::write(&bundle, PEM).unwrap();
    let epoch = EPOCH.to_string();
    let manifest = service_manifest(service);
    let out = dir.join("out");
    let mut args: Vec<PathBuf> = vec!["build".into(), "--manifest".into(), manifest];
    for machine in machines {
        let binary = dir.join(format!("binary-{machine}"));
        std::fs::write(&binary, fake_binary(*machine)).unwrap();
        args.extend(["--binary".into(), binary]);
    }
    args.extend([
        "--ca-bundle".into(),
        bundle,
        "--ca-provenance".into(),
        "nixpkgs cacert (test)".into(),
        "--epoch".into(),
        epoch.into(),
        "--out-dir".into(),
        out,
    ]);
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run(&refs)
}

#[test]
fn the_command_writes_what_the_library_writes() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseFiles {
        ca_bundle: PEM.to_vec(),
        ca_copyright: None,
        ca_provenance: "nixpkgs cacert (test)".into(),
    };
    for service in ["todo-api", "todo-mcp", "todo-web"] {
        let result = build_with_cli(dir.path(), service, &[X86_64, AARCH64]);
        assert!(result.status.success(), "{}", result.stderr);
        let spec = oci_image::spec::read_service(&service_manifest(service))
            .unwrap()
            .unwrap()
            .spec;
        let (amd64, arm64) = (fake_binary(X86_64), fake_binary(AARCH64));
        let image = build_multi_image(&spec, &[&amd64, &arm64], &base, EPOCH).unwrap();
        let out = dir.path().join("out");
        assert_eq!(
            std::fs::read(out.join(archive_file_name(&spec.name, None))).unwrap(),
            image.index_archive_bytes().unwrap(),
            "{service}: the command and the library disagree on the index archive"
        );
        for platform in &image.images {
            let path = out.join(archive_file_name(&spec.name, Some(platform.architecture)));
            assert_eq!(
                std::fs::read(&path).unwrap(),
                platform.archive_bytes().unwrap(),
                "{service}: {} differs",
                path.display()
            );
        }

        // The printed catalog entry points at what was written.
        let entry: CatalogEntry = serde_json::from_str(result.stdout.trim()).unwrap();
        assert_eq!(entry.service, service);
        assert_eq!(entry.reference, image.reference());
        assert_eq!(entry.digest, image.index.digest);
        let index = read_index_archive(Path::new(&entry.archive)).unwrap();
        assert_eq!(index.index_digest, entry.digest);
        assert_eq!(entry.platforms.len(), 2);
        for platform in &entry.platforms {
            let single = read_archive(Path::new(&platform.archive)).unwrap();
            assert_eq!(single.manifest_digest, platform.digest);
            assert_eq!(single.tag.as_deref(), Some(entry.tag.as_str()));
            assert_eq!(
                single.config.architecture().to_string(),
                platform.architecture
            );
            // What skopeo's docker-archive conversion used to lose is there.
            let config = &single.config_json;
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
}

#[test]
fn one_binary_makes_a_one_platform_index() {
    let dir = tempfile::tempdir().unwrap();
    let result = build_with_cli(dir.path(), "todo-api", &[AARCH64]);
    assert!(result.status.success(), "{}", result.stderr);
    let entry: CatalogEntry = serde_json::from_str(result.stdout.trim()).unwrap();
    let archs: Vec<&str> = entry
        .platforms
        .iter()
        .map(|p| p.architecture.as_str())
        .collect();
    assert_eq!(archs, ["arm64"]);
    let index = read_index_archive(Path::new(&entry.archive)).unwrap();
    assert_eq!(index.platforms.len(), 1);
    assert_eq!(index.platforms[0].config_json["architecture"], "arm64");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    // A 32-bit Arm binary: no image platform for it.
    let result = build_with_cli(dir.path(), "todo-api", &[40]);
    assert_eq!(result.status.code(), Some(1), "{}", result.stderr);
    assert!(
        result.stderr.contains("ELF machine 40"),
        "{}",
        result.stderr
    );
    assert!(!dir.path().join("out/todo-api.oci.tar").exists());
    // Two binaries for one platform.
    let result = build_with_cli(dir.path(), "todo-api", &[AARCH64, AARCH64]);
    assert_eq!(result.status.code(), Some(1), "{}", result.stderr);
    assert!(
        result.stderr.contains("two arm64 binaries"),
        "{}",
        result.stderr
    );
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
        "--out-dir",
        "/nonexistent/x",
    ];
    let result = run(&args.map(OsStr::new));
    assert_eq!(result.status.code(), Some(1));
    assert!(
        result
            .stderr
            .contains("has no [package.metadata.image] table"),
        "{}",
        result.stderr
    );
    // No --epoch and no SOURCE_DATE_EPOCH, no --binary: clap names what is missing.
    let result = run(&[
        "build",
        "--manifest",
        "m",
        "--ca-bundle",
        "c",
        "--out-dir",
        "o",
    ]
    .map(OsStr::new));
    assert_eq!(result.status.code(), Some(2));
    assert!(result.stderr.contains("--binary"), "{}", result.stderr);
    assert!(result.stderr.contains("--epoch"), "{}", result.stderr);
}
