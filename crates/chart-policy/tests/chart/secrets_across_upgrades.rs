//! Generated secrets survive upgrades: the chart's `lookup` runs for real, against a fake
//! API server, through `helm template --dry-run=server` (Helm 4 and Helm 3).
//!
//! First install: no Secret exists, so the JWT secret and the database password are
//! generated. Upgrade: the API serves that Secret, and the render must carry exactly the
//! same values (and the same pod checksums, so nothing restarts). A plain `helm template`
//! (no cluster) is the control: it generates new values every time.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chart_policy::fake_apiserver::FakeApiServer;
use chart_policy::objects::{Object, Rendered};
use chart_policy::tools::{Helm, RenderRequest};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

const SECRET: &str = "todo-secrets";

fn server_request(kubeconfig: &std::path::Path) -> RenderRequest {
    let mut request = RenderRequest::new().values_file("values-dev.yaml");
    request.extra_args = vec![
        "--dry-run=server".into(),
        "--disable-openapi-validation".into(),
    ];
    request.env = vec![("KUBECONFIG".into(), kubeconfig.display().to_string())];
    request
}

fn secret_data(rendered: &Rendered) -> BTreeMap<String, String> {
    let secret = rendered
        .secrets()
        .find(|s| s.metadata.name.as_deref() == Some(SECRET))
        .expect("the chart's Secret");
    secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
        .collect()
}

fn checksums(rendered: &Rendered) -> Vec<String> {
    rendered
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Deployment(d) => d
                .spec
                .as_ref()?
                .template
                .metadata
                .as_ref()?
                .annotations
                .as_ref()?
                .get("checksum/secret")
                .cloned(),
            _ => None,
        })
        .collect()
}

/// The Secret as the API server would return it after an install by this release: with
/// Helm's ownership metadata (Helm 4 checks it before adopting an existing object).
fn live_secret(data: &BTreeMap<String, String>) -> Value {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(SECRET.into()),
            namespace: Some("todo".into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".into(),
                "Helm".into(),
            )])),
            annotations: Some(BTreeMap::from([
                ("meta.helm.sh/release-name".into(), "todo".into()),
                ("meta.helm.sh/release-namespace".into(), "todo".into()),
                ("helm.sh/resource-policy".into(), "keep".into()),
            ])),
            resource_version: Some("1".into()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        // ByteString serialises as base64, as the API returns it.
        data: Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    };
    serde_json::to_value(&secret).unwrap()
}

fn alphanumeric(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric())
}

#[test]
fn generated_secrets_are_kept_across_upgrades() {
    for helm in Helm::installed().unwrap_or_else(|e| panic!("{e:#}")) {
        let server = FakeApiServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = server.write_kubeconfig(dir.path(), "todo").unwrap();
        let request = server_request(&kubeconfig);
        let version = &helm.version;

        // First install.
        let first =
            Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap();
        let generated = secret_data(&first);
        let jwt = &generated["jwt-secret"];
        let password = &generated["postgres-password"];
        assert!(
            jwt.len() == 48 && alphanumeric(jwt),
            "helm {version}: JWT secret {jwt:?}"
        );
        assert!(
            password.len() == 24 && alphanumeric(password),
            "helm {version}: password"
        );
        assert_eq!(
            generated["database-url"],
            format!("postgres://todo:{password}@todo-postgresql:5432/todo?sslmode=disable"),
            "helm {version}: DATABASE_URL is built from the generated password"
        );
        let requests = server.requests();
        assert!(
            requests
                .iter()
                .any(|r| r.starts_with(&format!("GET /api/v1/namespaces/todo/secrets/{SECRET}"))),
            "helm {version} did not look the Secret up: {requests:#?}"
        );

        // Upgrade: the Secret now exists.
        server.put(live_secret(&generated)).unwrap();
        let second =
            Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap();
        assert_eq!(
            secret_data(&second),
            generated,
            "helm {version}: the upgrade changed generated secrets"
        );
        assert_eq!(
            checksums(&second),
            checksums(&first),
            "helm {version}: the upgrade would restart the pods"
        );

        // A Secret missing a key (e.g. created by an older chart): keep what exists, generate the rest.
        let mut partial = generated.clone();
        partial.remove("postgres-password");
        server.put(live_secret(&partial)).unwrap();
        let third = secret_data(
            &Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap(),
        );
        assert_eq!(third["jwt-secret"], *jwt, "helm {version}: kept key lost");
        assert_ne!(
            third["postgres-password"], *password,
            "helm {version}: missing key not regenerated"
        );
        assert!(third["database-url"].contains(&third["postgres-password"]));

        // The dry runs only read.
        let writes: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect();
        assert!(
            writes.is_empty(),
            "helm {version} wrote to the API: {writes:#?}"
        );

        // Control: without a cluster every render generates new values.
        let plain = RenderRequest::new().values_file("values-dev.yaml");
        let a = secret_data(&Rendered::parse(&helm.template(&plain).unwrap()).unwrap());
        let b = secret_data(&Rendered::parse(&helm.template(&plain).unwrap()).unwrap());
        assert_ne!(
            a["jwt-secret"], b["jwt-secret"],
            "helm {version}: plain template should not be stable"
        );
    }
}

#[test]
fn operator_secrets_are_not_generated() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let request = RenderRequest::new()
        .values_file("values-prod.yaml")
        .set("jwt.existingSecret=todo-jwt");
    let rendered =
        Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap();
    assert_eq!(
        rendered.secrets().count(),
        0,
        "external database and JWT from Secrets: nothing to generate"
    );
}
