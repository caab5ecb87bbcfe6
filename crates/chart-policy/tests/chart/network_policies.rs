//! The NetworkPolicies open exactly the documented paths, in every scenario; the evaluator
//! follows the Kubernetes semantics and notices a policy that opens or closes too much.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use chart_policy::netpol::{Cluster, Listen, Peer, Role, cidr_contains, open_paths};
use chart_policy::objects::{Object, Rendered};
use chart_policy::policy::NetworkPolicyExpectation;
use chart_policy::scenarios;
use chart_policy::tools::Helm;
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::live::RenderScenario as _;

fn helm() -> Helm {
    Helm::primary().unwrap_or_else(|e| panic!("{e:#}"))
}

fn render(name: &str) -> (Rendered, Option<NetworkPolicyExpectation>) {
    let scenario = scenarios::all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    let rendered = scenario.render(&helm()).unwrap_or_else(|e| panic!("{e:#}"));
    (rendered, scenario.expectations().unwrap().network_policy)
}

fn policy(yaml: &str) -> NetworkPolicy {
    yaml_serde::from_str(yaml).unwrap()
}

fn peer<'a>(cluster: &'a Cluster, name: &str) -> &'a Peer {
    cluster
        .peers
        .iter()
        .find(|p| p.name.contains(name))
        .unwrap_or_else(|| panic!("no peer {name}"))
}

fn tcp(port: u16) -> Listen {
    Listen {
        port,
        protocol: "TCP".into(),
        name: Some("http".into()),
    }
}

#[test]
fn every_scenario_opens_exactly_the_documented_paths() {
    let helm = helm();
    let mut failures = Vec::new();
    let mut checked = 0;
    for scenario in scenarios::all() {
        let rendered = scenario.render(&helm).unwrap_or_else(|e| panic!("{e:#}"));
        let Some(expect) = scenario.expectations().unwrap().network_policy else {
            assert_eq!(
                rendered.network_policies().count(),
                0,
                "{}: NetworkPolicies rendered although disabled",
                scenario.name
            );
            continue;
        };
        checked += 1;
        let cluster = Cluster::new(&rendered, scenarios::NAMESPACE);
        for mismatch in open_paths(&cluster, &expect) {
            failures.push(format!("{}: {mismatch}", scenario.name));
        }
    }
    assert!(checked >= 5, "only {checked} scenarios had NetworkPolicies");
    assert!(
        failures.is_empty(),
        "NetworkPolicy paths differ from the documented ones:\n{}",
        failures.join("\n")
    );
}

#[test]
fn documented_paths_are_open_and_others_closed_in_the_dev_render() {
    let (rendered, _) = render("values-dev.yaml");
    let cluster = Cluster::new(&rendered, "todo");
    let (web, api, mcp, pg) = (
        peer(&cluster, "todo-web"),
        peer(&cluster, "todo-api"),
        peer(&cluster, "todo-mcp"),
        peer(&cluster, "todo-postgresql"),
    );
    let ingress = peer(&cluster, "ingress-nginx controller");
    let stranger = peer(&cluster, "stranger");
    let internet = peer(&cluster, "internet");
    let postgres = Listen {
        port: 5432,
        protocol: "TCP".into(),
        name: Some("postgres".into()),
    };
    assert!(cluster.allowed(ingress, web, &tcp(8080)));
    assert!(cluster.allowed(web, api, &tcp(8080)));
    assert!(cluster.allowed(api, mcp, &tcp(8080)));
    assert!(cluster.allowed(mcp, pg, &postgres));
    assert!(
        !cluster.allowed(web, pg, &postgres),
        "web must not reach the database"
    );
    assert!(
        !cluster.allowed(mcp, api, &tcp(8080)),
        "mcp must not call api"
    );
    assert!(
        !cluster.allowed(stranger, api, &tcp(8080)),
        "pods outside the release must not reach api"
    );
    assert!(!cluster.allowed(ingress, pg, &postgres));
    assert!(
        !cluster.allowed(api, internet, &tcp(443)),
        "no LLM key, so no egress to the internet"
    );
}

#[test]
fn llm_and_external_database_egress_follow_the_values() {
    let (rendered, expect) = render("external database by URL, LLM key");
    let expect = expect.unwrap();
    assert!(expect.llm.is_some() && expect.external_database.is_some());
    let cluster = Cluster::new(&rendered, "todo");
    let (api, mcp, web) = (
        peer(&cluster, "todo-api"),
        peer(&cluster, "todo-mcp"),
        peer(&cluster, "todo-web"),
    );
    let internet = peer(&cluster, "internet");
    let plain = |port| Listen {
        port,
        protocol: "TCP".into(),
        name: None,
    };
    assert!(cluster.allowed(api, internet, &plain(443)));
    assert!(cluster.allowed(api, internet, &plain(5432)));
    assert!(cluster.allowed(mcp, internet, &plain(5432)));
    assert!(
        !cluster.allowed(mcp, internet, &plain(443)),
        "only api talks to the LLM"
    );
    assert!(!cluster.allowed(web, internet, &plain(443)));
    assert!(!cluster.allowed(api, internet, &plain(22)));
}

#[test]
fn an_allow_all_policy_is_reported_as_undocumented_paths() {
    let (mut rendered, expect) = render("values.yaml");
    let expect = expect.unwrap();
    let allow_all = policy(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: oops\nspec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/component: postgresql\n  ingress:\n    - {}\n",
    );
    rendered.objects.push(Object::NetworkPolicy(allow_all));
    let mismatches = open_paths(&Cluster::new(&rendered, "todo"), &expect);
    assert!(
        mismatches.iter().any(|m| m.open
            && m.source.contains("stranger")
            && m.destination.contains("postgresql")),
        "{mismatches:#?}"
    );
    assert!(
        mismatches.iter().any(|m| m.open
            && m.source.contains("another namespace")
            && m.destination.contains("postgresql")),
        "{mismatches:#?}"
    );
    // web's own egress policy still stops it: open needs both directions.
    assert!(
        !mismatches
            .iter()
            .any(|m| m.source.contains("todo-web") && m.destination.contains("postgresql"))
    );
}

#[test]
fn a_missing_rule_is_reported_as_a_closed_documented_path() {
    let (mut rendered, expect) = render("values.yaml");
    let expect = expect.unwrap();
    for object in &mut rendered.objects {
        if let Object::NetworkPolicy(policy) = object
            && policy.metadata.name.as_deref() == Some("todo-web")
        {
            // Drop web's egress to api, keep DNS.
            policy
                .spec
                .as_mut()
                .unwrap()
                .egress
                .as_mut()
                .unwrap()
                .remove(0);
        }
    }
    let mismatches = open_paths(&Cluster::new(&rendered, "todo"), &expect);
    assert!(
        mismatches.iter().any(|m| !m.open
            && m.source.contains("todo-web")
            && m.destination.contains("todo-api")),
        "{mismatches:#?}"
    );
}

fn pod(name: &str, namespace: &str, labels: &[(&str, &str)], last_octet: u8) -> Peer {
    Peer {
        name: name.into(),
        namespace: Some(namespace.into()),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last_octet)),
        listens: vec![
            tcp(8080),
            Listen {
                port: 53,
                protocol: "UDP".into(),
                name: None,
            },
        ],
        role: Role::Other,
    }
}

fn cluster(peers: Vec<Peer>, policies: &[&str]) -> Cluster {
    let namespaces = ["a", "b"]
        .iter()
        .map(|ns| {
            (
                ns.to_string(),
                BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())]),
            )
        })
        .collect();
    Cluster {
        namespaces,
        peers,
        policies: policies
            .iter()
            .map(|p| ("a".to_string(), policy(p)))
            .collect(),
    }
}

const HEADER: &str =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p\n";

#[test]
fn evaluator_follows_kubernetes_semantics() {
    let server = pod("server", "a", &[("app", "server")], 1);
    let client = pod("client", "a", &[("app", "client")], 2);
    let remote_client = pod("remote client", "b", &[("app", "client")], 3);
    let peers = vec![server.clone(), client.clone(), remote_client.clone()];

    // No policy: everything is allowed.
    let open = cluster(peers.clone(), &[]);
    assert!(open.allowed(&client, &server, &tcp(8080)));

    // Ingress isolation with podSelector only: same namespace only.
    let same_namespace = format!(
        "{HEADER}spec:\n  podSelector:\n    matchLabels:\n      app: server\n  ingress:\n    - from:\n        - podSelector:\n            matchLabels:\n              app: client\n      ports:\n        - port: http\n"
    );
    let c = cluster(peers.clone(), &[&same_namespace]);
    assert!(c.allowed(&client, &server, &tcp(8080)));
    assert!(
        !c.allowed(&remote_client, &server, &tcp(8080)),
        "podSelector alone is namespace-local"
    );
    // Egress is not isolated by an ingress-only policy (policyTypes defaults to Ingress).
    assert!(c.allowed(&server, &client, &tcp(8080)));
    // The named port resolves on the destination.
    let other_port = Listen {
        port: 9090,
        protocol: "TCP".into(),
        name: Some("metrics".into()),
    };
    assert!(!c.allowed(&client, &server, &other_port));

    // namespaceSelector and podSelector in one peer: both must match.
    let cross = format!(
        "{HEADER}spec:\n  podSelector:\n    matchLabels:\n      app: server\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: b\n          podSelector:\n            matchLabels:\n              app: client\n"
    );
    let c = cluster(peers.clone(), &[&cross]);
    assert!(c.allowed(&remote_client, &server, &tcp(8080)));
    assert!(!c.allowed(&client, &server, &tcp(8080)));

    // Egress policy: UDP 53 only; TCP 8080 denied.
    let dns_only = format!(
        "{HEADER}spec:\n  podSelector:\n    matchLabels:\n      app: client\n  policyTypes: [Egress]\n  egress:\n    - ports:\n        - protocol: UDP\n          port: 53\n"
    );
    let c = cluster(peers.clone(), &[&dns_only]);
    assert!(!c.allowed(&client, &server, &tcp(8080)));
    assert!(c.allowed(
        &client,
        &server,
        &Listen {
            port: 53,
            protocol: "UDP".into(),
            name: None
        }
    ));

    // ipBlock with except, and endPort ranges.
    let blocks = format!(
        "{HEADER}spec:\n  podSelector:\n    matchLabels:\n      app: client\n  policyTypes: [Egress]\n  egress:\n    - to:\n        - ipBlock:\n            cidr: 10.0.0.0/24\n            except: [10.0.0.3/32]\n      ports:\n        - port: 8000\n          endPort: 8100\n"
    );
    let c = cluster(peers.clone(), &[&blocks]);
    assert!(c.allowed(&client, &server, &tcp(8080)));
    assert!(
        !c.allowed(&client, &remote_client, &tcp(8080)),
        "excepted address"
    );
    assert!(
        !c.allowed(&client, &server, &tcp(8200)),
        "outside the port range"
    );

    // An empty policy with both types isolates both ways.
    let deny_all =
        format!("{HEADER}spec:\n  podSelector: {{}}\n  policyTypes: [Ingress, Egress]\n");
    let c = cluster(peers, &[&deny_all]);
    assert!(!c.allowed(&client, &server, &tcp(8080)));
    assert!(!c.allowed(&remote_client, &server, &tcp(8080)));
}

#[test]
fn cidr_matching() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(cidr_contains("0.0.0.0/0", ip("203.0.113.10")));
    assert!(cidr_contains("10.244.0.0/16", ip("10.244.3.1")));
    assert!(!cidr_contains("10.244.0.0/16", ip("10.245.0.1")));
    assert!(cidr_contains("2001:db8::/32", ip("2001:db8::1")));
    assert!(!cidr_contains("2001:db8::/32", ip("10.0.0.1")));
    assert!(!cidr_contains("not-a-cidr", ip("10.0.0.1")));
}
