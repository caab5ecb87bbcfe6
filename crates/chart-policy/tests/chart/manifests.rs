//! The split of the values-dev.yaml render into k8s/: one file per component and kind, no
//! Secret, no test hooks, a kustomization listing every file, and a README that says how
//! to create every Secret the manifests reference.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chart_policy::manifests::{self, HEADER, readme_gaps, split};
use chart_policy::tools::{Helm, RenderRequest, repo_root};

fn dev_render(skip_tests: bool) -> String {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let mut request = RenderRequest::new().values_file(manifests::VALUES_FILE);
    request.skip_tests = skip_tests;
    helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn split_gives_one_file_per_component_and_kind_without_secrets() {
    let set = split(&dev_render(true)).unwrap();
    let names: BTreeSet<&str> = set.files.keys().map(String::as_str).collect();
    for expected in [
        "api-deployment.yaml",
        "mcp-service.yaml",
        "web-poddisruptionbudget.yaml",
        "postgresql-statefulset.yaml",
        "postgresql-service.yaml",
        "shared-configmap.yaml",
        "shared-ingress.yaml",
        "shared-networkpolicy.yaml",
        "kustomization.yaml",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        names
            .iter()
            .all(|n| !n.contains("secret") && !n.starts_with("test-")),
        "{names:?}"
    );
    // Without a cluster the chart renders no generated Secret at all (nothing random), so
    // there is nothing to leave out; the manifests still reference it (see the README check).
    assert_eq!(set.omitted_secrets, Vec::<String>::new());
    for (name, content) in &set.files {
        assert!(content.starts_with(HEADER), "{name} lacks the header");
        for label in ["helm.sh/chart", "app.kubernetes.io/managed-by"] {
            assert!(
                !content.contains(label),
                "{name} carries the Helm ownership label {label}"
            );
        }
        assert!(!content.contains("kind: Secret"), "{name} holds a Secret");
    }
    let kustomization = &set.files["kustomization.yaml"];
    for name in names.iter().filter(|n| **n != "kustomization.yaml") {
        assert!(
            kustomization.contains(&format!("  - {name}\n")),
            "kustomization.yaml does not list {name}"
        );
    }
    assert!(kustomization.contains("namespace: todo"));
    let want = BTreeMap::from([(
        "todo-secrets".to_string(),
        ["database-url", "jwt-secret", "postgres-password"]
            .iter()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>(),
    )]);
    assert_eq!(set.required_secrets, want);
}

#[test]
fn split_is_deterministic() {
    // The Secret is random per render; everything that lands in k8s/ must not be.
    let a = split(&dev_render(true)).unwrap();
    let b = split(&dev_render(true)).unwrap();
    assert_eq!(a.files, b.files);
}

#[test]
fn test_hooks_are_refused() {
    let error = split(&dev_render(false)).unwrap_err();
    assert!(format!("{error:#}").contains("is a Helm hook"), "{error:#}");
}

#[test]
fn the_readme_documents_every_secret_key() {
    let set = split(&dev_render(true)).unwrap();
    let readme = std::fs::read_to_string(repo_root().join("k8s").join(manifests::README)).unwrap();
    assert_eq!(
        readme_gaps(&readme, &set.required_secrets),
        Vec::<String>::new()
    );
}

#[test]
fn readme_gaps_are_found() {
    let required = BTreeMap::from([(
        "todo-secrets".to_string(),
        BTreeSet::from(["jwt-secret".to_string(), "database-url".to_string()]),
    )]);
    let incomplete = "kubectl create secret generic todo-secrets \\\n  --from-literal=jwt-secret=x\n\nlater: --from-literal=database-url=y\n";
    assert_eq!(
        readme_gaps(incomplete, &required),
        vec!["the command for Secret todo-secrets does not set key database-url (--from-literal=database-url=...)".to_string()]
    );
    assert_eq!(readme_gaps("nothing here", &required).len(), 1);
}

#[test]
fn distinct_documents_keep_each_object_once() {
    let a = "---\n# Source: x\nkind: A\n---\nkind: B\n".to_string();
    let b = "---\n# Source: y\nkind: A\n---\nkind: C\n".to_string();
    let merged =
        chart_policy::manifests::distinct_documents(&[("one".into(), a), ("two".into(), b)]);
    assert_eq!(merged.matches("kind: A").count(), 1, "{merged}");
    assert!(
        merged.contains("# rendered by: one; two\n# Source: x\nkind: A"),
        "{merged}"
    );
    assert!(merged.contains("# rendered by: one\nkind: B"), "{merged}");
    assert!(merged.contains("# rendered by: two\nkind: C"), "{merged}");
}
