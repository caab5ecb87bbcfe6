//! A missing tool is an error that says what to run, never a skip.

use chart_policy::tools::{HELM_INSTALLER, Helm, find_tool};

#[test]
fn a_missing_tool_names_its_installer() {
    let error = find_tool("helm-that-is-not-installed", HELM_INSTALLER)
        .err()
        .map(|e| format!("{e:#}"));
    let message = error.unwrap_or_default();
    assert!(message.contains("bash .ci/install/10-helm.sh"), "{message}");
    assert!(message.contains(".tools/bin"), "{message}");
}

#[test]
fn both_helm_majors_are_installed() {
    let helms = Helm::both().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(helms[0].version.starts_with("v4."), "{}", helms[0].version);
    assert!(helms[1].version.starts_with("v3."), "{}", helms[1].version);
}
