//! Generated secrets survive upgrades: the chart's `lookup` runs for real, against a fake
//! API server, through `helm template --dry-run=server` (Helm 4 and Helm 3).
//!
//! First install: no Secret exists, so the JWT secret and the database password are
//! generated. Upgrade: the API serves that Secret, and the render must carry exactly the
//! same values (and the same pod checksums, so nothing restarts). A plain `helm template`
//! (no cluster) is the control: it generates new values every time.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use fake_apiserver::FakeApiServer;

use crate::live::RenderLive as _;
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
        let kubeconfig = server.write_kubeconfig(dir.path(), "fake", "todo").unwrap();
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

        // Without a cluster nothing random is rendered: the Secret is left out.
        let plain = RenderRequest::new().values_file("values-dev.yaml");
        let offline = Rendered::parse(&helm.template(&plain).unwrap()).unwrap();
        assert_eq!(
            offline.secrets().count(),
            0,
            "helm {version}: a render without a cluster must not generate secrets"
        );
    }
}

/// `helm template` (ArgoCD and other GitOps renderers work the same way) twice with the same
/// values: byte-identical output for every values file, so a sync never rotates anything.
#[test]
fn renders_without_a_cluster_are_byte_identical() {
    for helm in Helm::installed().unwrap_or_else(|e| panic!("{e:#}")) {
        for file in chart_policy::scenarios::VALUES_FILES {
            let request = RenderRequest::new().values_file(file);
            let first = helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"));
            let second = helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"));
            assert!(
                first == second,
                "helm {}: two renders of {file} differ",
                helm.version
            );
            assert!(
                first.contains("kind: Deployment"),
                "{file}: nothing rendered"
            );
        }
    }
}

/// The pods' checksum/secret follows the Secret's contents: a new database.url rolls the
/// pods, the same values do not.
#[test]
fn pods_roll_when_the_secret_contents_change() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let render = |url: &str| {
        let request = RenderRequest::new()
            .set(format!("database.url={url}"))
            .set("jwt.existingSecret=todo-jwt");
        let rendered =
            Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap();
        (secret_data(&rendered), checksums(&rendered))
    };
    let (data_a, a) = render("postgres://todo:one@db.example.com/todo");
    let (_, a_again) = render("postgres://todo:one@db.example.com/todo");
    let (_, b) = render("postgres://todo:two@db.example.com/todo");
    assert_eq!(
        data_a["database-url"],
        "postgres://todo:one@db.example.com/todo"
    );
    assert_eq!(a.len(), 3, "three deployments carry checksum/secret");
    assert_eq!(a, a_again, "same contents, same checksum");
    assert!(
        a.iter().zip(&b).all(|(x, y)| x != y),
        "a changed database.url must change every checksum/secret"
    );
}

/// With a cluster, the chart's checksum/secret is the hash of the generated contents: a
/// regenerated key (here: the password, after it was deleted) rolls the pods.
#[test]
fn regenerated_secret_rolls_the_pods() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let server = FakeApiServer::start().unwrap();
    let request = RenderRequest::new().values_file("values-dev.yaml");
    let first = Rendered::parse(&server.render(&helm, &request).unwrap()).unwrap();
    let mut data = secret_data(&first);
    server.put(live_secret(&data)).unwrap();
    let kept = Rendered::parse(&server.render(&helm, &request).unwrap()).unwrap();
    assert_eq!(checksums(&kept), checksums(&first));
    data.remove("jwt-secret");
    server.put(live_secret(&data)).unwrap();
    let rotated = Rendered::parse(&server.render(&helm, &request).unwrap()).unwrap();
    assert_ne!(
        secret_data(&rotated)["jwt-secret"],
        secret_data(&first)["jwt-secret"]
    );
    assert!(
        checksums(&rotated)
            .iter()
            .zip(checksums(&first))
            .all(|(a, b)| *a != b),
        "a regenerated JWT secret must roll the pods"
    );
}

/// GitOps mode: secrets.generate=false with operator Secrets renders no chart Secret and
/// is stable; the refusal without them is in bad_values.
#[test]
fn gitops_mode_with_operator_secrets_renders_no_secret() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let request = RenderRequest::new()
        .values_file("values-dev.yaml")
        .set("secrets.generate=false")
        .set("jwt.existingSecret=todo-jwt")
        .set("postgresql.auth.existingSecret=todo-postgres-auth");
    let server = FakeApiServer::start().unwrap();
    let online = Rendered::parse(&server.render(&helm, &request).unwrap()).unwrap();
    assert_eq!(online.secrets().count(), 0);
    let a = helm.template(&request).unwrap();
    assert_eq!(a, helm.template(&request).unwrap());
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
