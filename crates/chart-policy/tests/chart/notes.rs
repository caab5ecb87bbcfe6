//! NOTES.txt, as `helm install` prints it (a server-side dry run against the fake API
//! server: Helm 3 cannot install, even as a dry run, without one): how to reach the app and
//! how to get the generated credentials, never the credentials themselves.

#![allow(clippy::unwrap_used)]

use chart_policy::objects::Rendered;
use chart_policy::tools::{Helm, chart_dir};
use fake_apiserver::FakeApiServer;

fn notes(helm: &Helm, values_file: &str) -> (String, String) {
    let server = FakeApiServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path(), "fake", "todo").unwrap();
    let args = [
        "install".into(),
        "todo".into(),
        chart_dir().into_os_string(),
        "--namespace".into(),
        "todo".into(),
        "--values".into(),
        chart_dir().join(values_file).into_os_string(),
        "--dry-run=server".into(),
        "--disable-openapi-validation".into(),
    ];
    let output = helm
        .run(
            &args,
            &[("KUBECONFIG".into(), kubeconfig.display().to_string())],
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "helm {} install --dry-run=server failed: {}",
        helm.version,
        String::from_utf8_lossy(&output.stderr)
    );
    let notes = stdout
        .split("NOTES:")
        .nth(1)
        .unwrap_or_else(|| panic!("no NOTES in:\n{stdout}"))
        .to_string();
    (notes, stdout)
}

/// Decoded values of the Secrets in the dry run's MANIFEST section.
fn secret_values(stdout: &str) -> Vec<String> {
    let manifest = stdout
        .split("MANIFEST:")
        .nth(1)
        .unwrap()
        .split("NOTES:")
        .next()
        .unwrap();
    let rendered = Rendered::parse(manifest).unwrap();
    rendered
        .secrets()
        .flat_map(|s| s.data.clone().unwrap_or_default().into_values())
        .map(|v| String::from_utf8(v.0).unwrap())
        .collect()
}

#[test]
fn notes_say_how_to_reach_the_app_and_get_credentials() {
    for helm in Helm::installed().unwrap_or_else(|e| panic!("{e:#}")) {
        let (dev, manifest) = notes(&helm, "values-dev.yaml");
        assert!(
            dev.contains("http://todo.local/"),
            "helm {}: {dev}",
            helm.version
        );
        assert!(dev.contains("minikube ip"), "{dev}");
        assert!(
            dev.contains("get secret todo-secrets -o jsonpath='{.data.postgres-password}'"),
            "{dev}"
        );
        assert!(dev.contains("helm test todo --namespace todo"), "{dev}");
        let generated = secret_values(&manifest);
        assert!(
            generated.len() >= 3,
            "helm {}: no generated Secret in the dry run",
            helm.version
        );
        for value in generated {
            assert!(!dev.contains(&value), "NOTES print a secret value");
        }

        let (prod, _) = notes(&helm, "values-prod.yaml");
        assert!(prod.contains("https://todo.example.com/"), "{prod}");
        assert!(
            prod.contains("DATABASE_URL comes from Secret todo-database"),
            "{prod}"
        );
        assert!(
            prod.contains("API key from Secret todo-llm-api-key"),
            "{prod}"
        );
        assert!(!prod.contains("postgres-password"), "{prod}");
    }
}
