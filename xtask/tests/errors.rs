//! How `cargo xtask` ends on a user error, run as the real binary: with `RUST_BACKTRACE=1` (as
//! many developers' shells set it) the error chain only, a backtrace only with `--verbose`;
//! and with no cluster set up, one sentence saying what to do.
#![allow(clippy::unwrap_used)]

use std::process::Command;

/// `cargo xtask status` on a machine with no kubeconfig at all (an empty HOME).
fn status(verbose: bool) -> (i32, String) {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    if verbose {
        command.arg("--verbose");
    }
    let output = command
        .arg("status")
        .env("HOME", home.path())
        .env("RUST_BACKTRACE", "1")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_cluster_is_one_sentence_without_a_backtrace() {
    let (code, stderr) = status(false);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: no cluster found: run `cargo xtask deploy` first (or set KUBECONFIG)"
    );
}

#[test]
fn verbose_adds_the_backtrace() {
    let (code, stderr) = status(true);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("error: no cluster found"), "{stderr}");
    assert!(stderr.contains("Stack backtrace:"), "{stderr}");
}

#[test]
fn usage_says_cargo_xtask() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("Usage: cargo xtask [OPTIONS] <COMMAND>"),
        "{help}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["teardown", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(
        help.contains("Usage: cargo xtask teardown [OPTIONS]"),
        "{help}"
    );
    // The help tells the truth about what plain teardown keeps.
    assert!(help.contains("keep its data (PVC, Secret)"), "{help}");
    assert!(
        help.contains("Only --purge\ndeletes them") || help.contains("Only --purge deletes them"),
        "{help}"
    );
}
