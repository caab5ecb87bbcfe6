//! Each policy rule fails on a render broken the way it guards against: the rules are not
//! vacuous. Every test starts from the clean values-dev.yaml render and breaks one thing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chart_policy::objects::{Object, Rendered};
use chart_policy::policy::{self, Expectations, Violation};
use chart_policy::scenarios::{self, Scenario};
use chart_policy::tools::Helm;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, EnvVar};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::live::RenderScenario as _;

fn scenario(name: &str) -> Scenario {
    scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
}

fn render(name: &str) -> (Rendered, Expectations) {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let scenario = scenario(name);
    let rendered = scenario.render(&helm).unwrap_or_else(|e| panic!("{e:#}"));
    let expect = scenario.expectations().unwrap();
    let clean = policy::check(&rendered, &expect);
    assert!(
        clean.is_empty(),
        "the {name} render should start clean: {clean:#?}"
    );
    (rendered, expect)
}

fn dev() -> (Rendered, Expectations) {
    render("values-dev.yaml")
}

fn deployment<'a>(rendered: &'a mut Rendered, component: &str) -> &'a mut Deployment {
    rendered
        .objects
        .iter_mut()
        .find_map(|o| match o {
            Object::Deployment(d)
                if d.metadata.labels.as_ref().unwrap()["app.kubernetes.io/component"]
                    == component =>
            {
                Some(d)
            }
            _ => None,
        })
        .unwrap()
}

fn container<'a>(rendered: &'a mut Rendered, component: &str) -> &'a mut Container {
    let d = deployment(rendered, component);
    d.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers
        .first_mut()
        .unwrap()
}

/// Asserts that `violations` contain one of `rule` whose text contains `fragment`.
fn assert_caught(violations: Vec<Violation>, rule: &str, fragment: &str) {
    assert!(
        violations
            .iter()
            .any(|v| v.rule == rule && v.to_string().contains(fragment)),
        "expected a [{rule}] violation mentioning {fragment:?}, got: {violations:#?}"
    );
}

#[test]
fn missing_probe_is_caught() {
    let (mut rendered, expect) = dev();
    container(&mut rendered, "api").readiness_probe = None;
    assert_caught(
        policy::probes_and_lifecycle(&rendered, &expect),
        "probes",
        "no readiness probe",
    );
}

#[test]
fn wrong_probe_path_and_period_are_caught() {
    let (mut rendered, expect) = dev();
    let c = container(&mut rendered, "mcp");
    c.liveness_probe
        .as_mut()
        .unwrap()
        .http_get
        .as_mut()
        .unwrap()
        .path = Some("/readyz".into());
    c.readiness_probe.as_mut().unwrap().period_seconds = Some(30);
    let violations = policy::probes_and_lifecycle(&rendered, &expect);
    assert_caught(
        violations.clone(),
        "probes",
        "liveness probe is not GET /livez",
    );
    assert_caught(violations, "probes", "readiness period Some(30)");
}

#[test]
fn latest_tag_and_pull_policy_are_caught() {
    let (mut rendered, expect) = dev();
    let c = container(&mut rendered, "web");
    c.image = Some("todo-web:latest".into());
    c.image_pull_policy = Some("Always".into());
    let violations = policy::images(&rendered, &expect);
    assert_caught(violations.clone(), "images", "uses the latest tag");
    assert_caught(violations, "images", "not the values' IfNotPresent");
}

#[test]
fn untagged_image_is_caught() {
    let (mut rendered, expect) = dev();
    container(&mut rendered, "web").image = Some("registry.example.com:5000/todo-web".into());
    assert_caught(policy::images(&rendered, &expect), "images", "has no tag");
}

#[test]
fn missing_limit_and_request_above_limit_are_caught() {
    let (mut rendered, _) = dev();
    let resources = container(&mut rendered, "api").resources.as_mut().unwrap();
    resources.limits.as_mut().unwrap().remove("memory");
    resources.requests.as_mut().unwrap().insert(
        "cpu".into(),
        k8s_openapi::apimachinery::pkg::api::resource::Quantity("2".into()),
    );
    let violations = policy::containers(&rendered);
    assert_caught(violations.clone(), "containers", "no memory limit");
    assert_caught(
        violations,
        "containers",
        "cpu request 2 exceeds its limit 500m",
    );
}

#[test]
fn weakened_security_context_is_caught() {
    let (mut rendered, _) = dev();
    let security = container(&mut rendered, "api")
        .security_context
        .as_mut()
        .unwrap();
    security.allow_privilege_escalation = Some(true);
    security.read_only_root_filesystem = None;
    security.capabilities = None;
    let violations = policy::containers(&rendered);
    assert_caught(
        violations.clone(),
        "containers",
        "allowPrivilegeEscalation is not false",
    );
    assert_caught(
        violations.clone(),
        "containers",
        "readOnlyRootFilesystem is not true",
    );
    assert_caught(violations, "containers", "capabilities do not drop ALL");
}

#[test]
fn root_user_and_token_automount_are_caught() {
    let (mut rendered, _) = dev();
    let pod = deployment(&mut rendered, "web")
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap();
    pod.security_context.as_mut().unwrap().run_as_user = Some(0);
    pod.automount_service_account_token = None;
    let violations = policy::pod_security(&rendered);
    assert_caught(
        violations.clone(),
        "pod-security",
        "runAsUser is not set to a non-root uid",
    );
    assert_caught(
        violations,
        "pod-security",
        "automountServiceAccountToken is not false",
    );
}

#[test]
fn secret_value_in_a_config_map_is_caught() {
    let (mut rendered, _) = dev();
    let jwt = rendered
        .secrets()
        .find_map(|s| {
            s.data
                .as_ref()?
                .get("jwt-secret")
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        })
        .unwrap();
    for object in &mut rendered.objects {
        if let Object::ConfigMap(cm) = object {
            cm.data
                .as_mut()
                .unwrap()
                .insert("EXTRA".into(), format!("token={jwt}"));
        }
    }
    assert_caught(
        policy::secrets_not_leaked(&rendered),
        "secrets",
        "value of Secret todo-secrets key jwt-secret appears in",
    );
}

#[test]
fn literal_secret_env_is_caught() {
    let (mut rendered, _) = dev();
    let env = container(&mut rendered, "mcp").env.as_mut().unwrap();
    let database_url = env.iter_mut().find(|v| v.name == "DATABASE_URL").unwrap();
    *database_url = EnvVar {
        name: "DATABASE_URL".into(),
        value: Some("postgres://todo:hunter2@db/todo".into()),
        value_from: None,
    };
    assert_caught(
        policy::secrets_not_leaked(&rendered),
        "secrets",
        "DATABASE_URL is a literal",
    );
}

#[test]
fn secret_key_typo_is_caught() {
    let (mut rendered, expect) = dev();
    let env = container(&mut rendered, "api").env.as_mut().unwrap();
    let jwt = env.iter_mut().find(|v| v.name == "JWT_SECRET").unwrap();
    jwt.value_from
        .as_mut()
        .unwrap()
        .secret_key_ref
        .as_mut()
        .unwrap()
        .key = "jwt_secret".into();
    assert_caught(
        policy::references(&rendered, &expect),
        "references",
        "Secret todo-secrets has no key jwt_secret",
    );
}

#[test]
fn wrong_service_url_is_caught() {
    let (mut rendered, expect) = dev();
    for object in &mut rendered.objects {
        if let Object::ConfigMap(cm) = object {
            cm.data
                .as_mut()
                .unwrap()
                .insert("MCP_URL".into(), "http://todo-mcp:9000/mcp".into());
        }
    }
    assert_caught(
        policy::wiring(&rendered, &expect),
        "wiring",
        "MCP_URL is Some(\"http://todo-mcp:9000/mcp\")",
    );
}

#[test]
fn database_url_with_another_password_is_caught() {
    let (mut rendered, expect) = dev();
    for object in &mut rendered.objects {
        if let Object::Secret(secret) = object {
            secret.data.as_mut().unwrap().insert(
                "postgres-password".into(),
                ByteString(b"another-password-entirely".to_vec()),
            );
        }
    }
    assert_caught(
        policy::wiring(&rendered, &expect),
        "wiring",
        "DATABASE_URL does not reach the in-cluster PostgreSQL",
    );
}

#[test]
fn selector_mismatch_is_caught() {
    let (mut rendered, _) = dev();
    let spec = deployment(&mut rendered, "mcp").spec.as_mut().unwrap();
    spec.selector
        .match_labels
        .as_mut()
        .unwrap()
        .insert("app.kubernetes.io/component".into(), "api".into());
    let violations = policy::selectors(&rendered);
    assert_caught(
        violations.clone(),
        "selectors",
        "selector does not match its pod template labels",
    );
    assert_caught(
        violations,
        "selectors",
        "selector also matches the pods of Deployment/todo-api",
    );
}

#[test]
fn service_targeting_a_missing_or_numbered_port_is_caught() {
    let (mut rendered, _) = dev();
    let mut first = true;
    for object in &mut rendered.objects {
        if let Object::Service(service) = object {
            let port = &mut service.spec.as_mut().unwrap().ports.as_mut().unwrap()[0];
            port.target_port = Some(if first {
                IntOrString::String("web".into())
            } else {
                IntOrString::Int(8080)
            });
            first = false;
        }
    }
    let violations = policy::services(&rendered);
    assert_caught(
        violations.clone(),
        "services",
        "targetPort \"web\" is not a container port",
    );
    assert_caught(violations, "services", "is not a named container port");
}

#[test]
fn ingress_backend_to_a_missing_service_is_caught() {
    let (mut rendered, expect) = dev();
    for object in &mut rendered.objects {
        if let Object::Ingress(ingress) = object {
            let rule = &mut ingress.spec.as_mut().unwrap().rules.as_mut().unwrap()[0];
            rule.http.as_mut().unwrap().paths[0]
                .backend
                .service
                .as_mut()
                .unwrap()
                .name = "todo-nope".into();
        }
    }
    assert_caught(
        policy::ingress(&rendered, &expect),
        "ingress",
        "backend Service \"todo-nope\" is not rendered",
    );
}

#[test]
fn missing_autoscaler_is_caught() {
    let (mut rendered, expect) = render("values-prod.yaml");
    rendered.objects.retain(|o| {
        !(matches!(o, Object::HorizontalPodAutoscaler(_)) && o.component() == Some("web"))
    });
    assert_caught(
        policy::scaling(&rendered, &expect),
        "scaling",
        "autoscaling is enabled but no HPA is rendered",
    );
}

#[test]
fn missing_disruption_budget_is_caught() {
    let (mut rendered, expect) = render("values-prod.yaml");
    rendered
        .objects
        .retain(|o| !(matches!(o, Object::PodDisruptionBudget(_)) && o.component() == Some("api")));
    assert_caught(
        policy::scaling(&rendered, &expect),
        "scaling",
        "PDB rendered: false, pdb.enabled: true",
    );
}

#[test]
fn unsafe_rollout_is_caught() {
    let (mut rendered, expect) = dev();
    let spec = deployment(&mut rendered, "web").spec.as_mut().unwrap();
    spec.strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap()
        .max_unavailable = Some(IntOrString::Int(1));
    spec.template.metadata.as_mut().unwrap().annotations = Some(BTreeMap::new());
    let violations = policy::rollout(&rendered, &expect);
    assert_caught(violations.clone(), "rollout", "maxUnavailable 0");
    assert_caught(violations, "rollout", "no checksum/config annotation");
}

#[test]
fn database_pools_beyond_max_connections_are_caught() {
    // values.yaml: api autoscales to 10 pods, mcp runs 1, each +1 surge pod: 13 pools.
    let (mut rendered, _) = render("values.yaml");
    for object in &mut rendered.objects {
        if let Object::ConfigMap(cm) = object {
            cm.data
                .as_mut()
                .unwrap()
                .insert("DATABASE_MAX_CONNECTIONS".into(), "10".into());
        }
    }
    assert_caught(
        policy::connection_budget(&rendered),
        "connections",
        "the services may open 140 connections (api 11 pods x 10, mcp 3 pods x 10) but PostgreSQL accepts 97",
    );

    let (mut rendered, _) = dev();
    for object in &mut rendered.objects {
        if let Object::StatefulSet(set) = object {
            let pod = set.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            pod.containers[0].args = Some(vec!["-c".into(), "max_connections=10".into()]);
        }
    }
    assert_caught(
        policy::connection_budget(&rendered),
        "connections",
        "but PostgreSQL accepts 7",
    );
}

#[test]
fn unexpected_kind_is_refused_by_the_parser() {
    let error = Rendered::parse(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n",
    )
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("unexpected object"),
        "{error:#}"
    );
}
