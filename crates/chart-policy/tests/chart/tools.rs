//! A missing tool is an error that says what to run, never a skip.

use chart_policy::tools::{
    HELM_INSTALLER, Helm, RenderRequest, find_tool, helm_major_minor, helm_supported,
    required_helm_majors, select_helms,
};
use std::path::PathBuf;

#[test]
fn a_missing_tool_names_its_installer() {
    let error = find_tool("helm-that-is-not-installed", HELM_INSTALLER)
        .err()
        .map(|e| format!("{e:#}"));
    let message = error.unwrap_or_default();
    assert!(message.contains("bash .ci/install/10-helm.sh"), "{message}");
    assert!(message.contains(".tools/bin"), "{message}");
}

/// Every major HELM_MAJORS asks for is there (CI asks for 4 and 3), newest first, and
/// `helm` itself is one of them whichever major it is.
#[test]
fn the_helm_majors_asked_for_are_installed() {
    let helms = Helm::installed().unwrap_or_else(|e| panic!("{e:#}"));
    let majors: Vec<u32> = helms.iter().map(|h| h.major).collect();
    for required in required_helm_majors().unwrap() {
        assert!(
            majors.contains(&required),
            "Helm {required} not in {majors:?}"
        );
    }
    assert!(majors.windows(2).all(|w| w[0] > w[1]), "{majors:?}");
    for helm in &helms {
        assert!(
            helm.version.starts_with(&format!("v{}.", helm.major)),
            "{helm:?}"
        );
    }
    let primary = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(majors.contains(&primary.major), "{primary:?} vs {majors:?}");
}

fn found(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    list.iter()
        .map(|(p, v)| (PathBuf::from(p), v.to_string()))
        .collect()
}

#[test]
fn helm_3_alone_is_enough_unless_both_are_required() {
    // nixpkgs' dev shell: only Helm 3 as `helm`.
    let nix = found(&[("/nix/store/x-helm/bin/helm", "v3.19.0")]);
    let chosen = select_helms(&nix, &[]).unwrap();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].2, 3);
    let error = select_helms(&nix, &[4, 3]).unwrap_err().to_string();
    assert!(error.contains("no Helm 4"), "{error}");
    assert!(error.contains("bash .ci/install/10-helm.sh"), "{error}");
}

#[test]
fn one_helm_per_major_newest_major_first() {
    let ci = found(&[
        ("/t/helm", "v4.1.4+g05fa379"),
        ("/t/helm3", "v3.17.3+ge4da497"),
    ]);
    let chosen = select_helms(&ci, &[4, 3]).unwrap();
    let majors: Vec<u32> = chosen.iter().map(|c| c.2).collect();
    assert_eq!(majors, [4, 3]);
    // `helm` is Helm 3 and `helm4` is Helm 4: the same two, Helm 4 first.
    let swapped = found(&[("/t/helm", "v3.18.0"), ("/t/helm4", "v4.0.1")]);
    let chosen = select_helms(&swapped, &[4, 3]).unwrap();
    assert_eq!(chosen[0].0, PathBuf::from("/t/helm4"));
    // A second binary of a major already chosen is ignored.
    let twice = found(&[("/t/helm", "v4.1.4"), ("/t/helm4", "v4.0.0")]);
    assert_eq!(select_helms(&twice, &[]).unwrap().len(), 1);
}

#[test]
fn old_and_unknown_helms_are_refused_by_name() {
    let old = found(&[("/usr/bin/helm", "v3.15.2"), ("/x/helm3", "")]);
    let error = select_helms(&old, &[]).unwrap_err().to_string();
    assert!(error.contains("Helm 3.16+ or Helm 4"), "{error}");
    assert!(error.contains("/usr/bin/helm (\"v3.15.2\")"), "{error}");
    assert!(!helm_supported("v2.17.0"));
    assert!(!helm_supported("v5.0.0"));
    assert!(helm_supported("v3.16.0"));
    assert_eq!(helm_major_minor("v4.1.4+g05fa379"), Some((4, 1)));
}

/// checkov (the real one) finds nothing unexcused in the default render, and every
/// finding it makes is one the reviewed skip list names.
#[test]
fn checkov_passes_the_default_render_with_the_reviewed_skips() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    // Not a hidden directory: checkov skips those.
    let dir = tempfile::Builder::new()
        .prefix("chart-policy-checkov-")
        .tempdir()
        .unwrap();
    let text = helm
        .template(&RenderRequest::new())
        .unwrap_or_else(|e| panic!("{e:#}"));
    std::fs::write(dir.path().join("values.yaml.rendered.yaml"), text).unwrap();
    let report = chart_policy::checkov::run(dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
    let outcome =
        chart_policy::checkov::evaluate(&report, &chart_policy::checkov::skips().unwrap()).unwrap();
    assert!(
        outcome.passed > 100,
        "checkov checked almost nothing: {outcome:?}"
    );
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(outcome.parsing_errors, 0);
}
