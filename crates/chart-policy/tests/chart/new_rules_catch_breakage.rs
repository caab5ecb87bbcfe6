//! The rules added for operators (Pod Security "restricted" on every pod, stable database
//! pod template, the HTTPRoute's shape and routes, NetworkPolicy egress that must not reach
//! the API server) fail on renders broken the way they guard against.

#![allow(clippy::unwrap_used)]

use chart_policy::netpol::{Cluster, Role, open_paths};
use chart_policy::objects::{Object, Rendered};
use chart_policy::policy::{self, Expectations, Violation};
use chart_policy::scenarios;
use chart_policy::tools::Helm;

use crate::live::RenderScenario as _;

const GATEWAY: &str = "Gateway API, backups, NodePort, extension points, GitOps secrets";

fn render(name: &str) -> (Rendered, Expectations) {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let scenario = scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    let rendered = scenario.render(&helm).unwrap_or_else(|e| panic!("{e:#}"));
    let expect = scenario.expectations().unwrap();
    let clean = policy::check(&rendered, &expect);
    assert!(clean.is_empty(), "{name} should start clean: {clean:#?}");
    (rendered, expect)
}

fn assert_caught(violations: &[Violation], rule: &str, fragment: &str) {
    assert!(
        violations
            .iter()
            .any(|v| v.rule == rule && v.to_string().contains(fragment)),
        "expected a [{rule}] violation mentioning {fragment:?}, got: {violations:#?}"
    );
}

#[test]
fn the_backup_job_is_checked_against_restricted() {
    let (mut rendered, _) = render(GATEWAY);
    let job = rendered
        .objects
        .iter_mut()
        .find_map(|o| match o {
            Object::CronJob(c) => Some(c),
            _ => None,
        })
        .expect("the backup CronJob is rendered");
    let pod = job
        .spec
        .as_mut()
        .unwrap()
        .job_template
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap();
    pod.host_pid = Some(true);
    let container = pod.containers.first_mut().unwrap();
    let security = container.security_context.as_mut().unwrap();
    security.allow_privilege_escalation = None;
    security.capabilities.as_mut().unwrap().add = Some(vec!["SYS_ADMIN".into()]);
    security.seccomp_profile = None;
    pod.security_context.as_mut().unwrap().seccomp_profile = None;
    pod.volumes
        .as_mut()
        .unwrap()
        .push(yaml_serde::from_str("{name: host, hostPath: {path: /var/run}}").unwrap());
    let violations = policy::restricted(&rendered);
    for fragment in [
        "CronJob/todo-backup: hostPID is true",
        "allowPrivilegeEscalation is not false",
        "adds capability SYS_ADMIN",
        "seccompProfile is neither RuntimeDefault nor Localhost",
        "volume host is of type hostPath",
    ] {
        assert_caught(&violations, "pod-security-restricted", fragment);
    }
}

#[test]
fn version_labels_on_the_database_pod_template_are_caught() {
    let (mut rendered, _) = render("values-dev.yaml");
    for object in &mut rendered.objects {
        if let Object::StatefulSet(s) = object {
            let labels = s
                .spec
                .as_mut()
                .unwrap()
                .template
                .metadata
                .as_mut()
                .unwrap()
                .labels
                .as_mut()
                .unwrap();
            labels.insert("app.kubernetes.io/version".into(), "0.1.0".into());
        }
    }
    assert_caught(
        &policy::stable_pod_templates(&rendered),
        "stable-pod-template",
        "carries app.kubernetes.io/version",
    );
}

#[test]
fn a_broken_http_route_is_caught() {
    let (mut rendered, expect) = render(GATEWAY);
    for object in &mut rendered.objects {
        if let Object::HttpRoute(route) = object {
            route.spec.parent_refs.clear();
            let rule = &mut route.spec.rules[0];
            rule.matches[0].path.as_mut().unwrap().value = Some("api".into());
            rule.backend_refs[0].port = None;
        }
    }
    let violations = policy::http_routes(&rendered, &expect);
    for fragment in [
        "spec.parentRefs has 0 entries",
        "must start with /",
        "a Service backend needs a port",
        "want the Ingress's",
    ] {
        assert_caught(&violations, "httproute", fragment);
    }
    // And one that is missing although gateway.enabled.
    rendered
        .objects
        .retain(|o| !matches!(o, Object::HttpRoute(_)));
    assert_caught(
        &policy::http_routes(&rendered, &expect),
        "httproute",
        "0 rendered, want 1",
    );
}

#[test]
fn an_http_route_with_unknown_fields_does_not_parse() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{matches: [{path: {type: PathPrefix, value: /}}], backendRef: [{name: web, port: 80}]}]\n";
    let error = Rendered::parse(text).unwrap_err();
    assert!(format!("{error:#}").contains("backendRef"), "{error:#}");
}

#[test]
fn llm_egress_without_exceptions_would_reach_the_api_server() {
    let (mut rendered, expect) = render("external database by URL, LLM key");
    let expect = expect.network_policy.unwrap();
    // Drop the default exceptions from the api policy's LLM rule.
    for object in &mut rendered.objects {
        if let Object::NetworkPolicy(policy) = object
            && policy.metadata.name.as_deref() == Some("todo-api")
        {
            for rule in policy.spec.as_mut().unwrap().egress.as_mut().unwrap() {
                for peer in rule.to.iter_mut().flatten() {
                    if let Some(block) = peer.ip_block.as_mut() {
                        block.except = None;
                    }
                }
            }
        }
    }
    let cluster = Cluster::new(&rendered, "todo");
    let mismatches = open_paths(&cluster, &expect);
    assert!(
        mismatches
            .iter()
            .any(|m| m.open && m.destination == "Kubernetes API server"),
        "{mismatches:#?}"
    );
    assert!(cluster.peers.iter().any(|p| p.role == Role::ApiServer));
}

#[test]
fn node_local_dns_is_reachable_by_default_and_closed_without_it() {
    let (rendered, expect) = render("values.yaml");
    let expect = expect.network_policy.unwrap();
    assert!(open_paths(&Cluster::new(&rendered, "todo"), &expect).is_empty());
    let mut without = expect.clone();
    without.node_local_dns.clear();
    let mismatches = open_paths(&Cluster::new(&rendered, "todo"), &without);
    assert!(
        mismatches
            .iter()
            .any(|m| m.open && m.destination == "NodeLocal DNSCache"),
        "the values.yaml policies open NodeLocal DNSCache: {mismatches:#?}"
    );
}
