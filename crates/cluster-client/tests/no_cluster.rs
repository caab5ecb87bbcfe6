//! With no cluster set up, `status` and `doctor` say so in one sentence with the way on,
//! instead of kube's nested in-cluster/kubeconfig chain.
#![allow(clippy::unwrap_used)]

use cluster_client::client::{NO_CLUSTER, kubeconfig_location};
use std::ffi::OsStr;

#[test]
fn no_kubeconfig_anywhere_means_no_cluster() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(
        kubeconfig_location(None, Some(home.path().as_os_str()), false),
        None
    );
    // An empty KUBECONFIG is the same as none (kubectl treats it so).
    assert_eq!(
        kubeconfig_location(Some(OsStr::new("")), Some(home.path().as_os_str()), false),
        None
    );
    assert_eq!(kubeconfig_location(None, None, false), None);
    assert_eq!(
        NO_CLUSTER,
        "no cluster found: run `cargo xtask deploy` first (or set KUBECONFIG)"
    );
}

#[test]
fn an_existing_kubeconfig_is_named_so_its_problem_can_be_reported() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::write(home.path().join(".kube/config"), "apiVersion: v1\n").unwrap();
    assert_eq!(
        kubeconfig_location(None, Some(home.path().as_os_str()), false),
        Some(home.path().join(".kube/config").display().to_string())
    );
    assert_eq!(
        kubeconfig_location(Some(OsStr::new("/tmp/a:/tmp/b")), None, false),
        Some("$KUBECONFIG (/tmp/a:/tmp/b)".to_string())
    );
    assert_eq!(
        kubeconfig_location(None, None, true),
        Some("(in-cluster service account)".to_string())
    );
}

/// A kubeconfig that names no usable context fails with a message naming the file.
#[tokio::test]
async fn a_broken_kubeconfig_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n",
    )
    .unwrap();
    let error = cluster_client::client::kube_client_from(Some(&path), Some("todo-chatbot"))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        format!("{error:#}").contains(&path.display().to_string()),
        "{error:#}"
    );
}
