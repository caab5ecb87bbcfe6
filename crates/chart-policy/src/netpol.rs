//! NetworkPolicy reachability: which connections the rendered policies allow.
//!
//! A small model of a cluster: the release's pods (from the rendered workloads, with their
//! real labels and container ports) plus outside peers: the ingress controller, the cluster
//! DNS, a stranger pod in the release's namespace, a pod of another release of the chart,
//! a twin of the api pod in another namespace, a pod that wears the ingress controller's
//! labels in the wrong namespace, and a host on the internet. [`Cluster::allowed`]
//! implements the Kubernetes NetworkPolicy semantics (isolation per direction, peers by pod
//! and namespace selectors and ipBlocks, numbered and named ports, protocols);
//! [`open_paths`] compares every (source, destination, port) with [`documented`].
//!
//! ipBlocks are applied to pod addresses too, as Calico and Cilium do; that is the
//! stricter reading, since a path opened by an ipBlock then also shows up here.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::objects::{COMPONENT_LABEL, Rendered, selector_matches};
use crate::policy::{ExternalEgress, NetworkPolicyExpectation};

/// What a peer is, for the documented paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A pod of the release, by component (api, mcp, web, postgresql, test).
    Release(String),
    IngressController,
    /// A Gateway API data-plane pod (networkPolicy.gateway).
    Gateway,
    Dns,
    /// A node-local DNS cache on a link-local address (hostNetwork).
    NodeLocalDns,
    /// The Kubernetes API server: no release pod may reach it.
    ApiServer,
    /// Any other address or pod.
    Other,
}

/// A port a peer listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub port: u16,
    pub protocol: String,
    pub name: Option<String>,
}

/// A pod or an outside address.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: String,
    /// None for addresses outside the cluster.
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ip: IpAddr,
    pub listens: Vec<Listen>,
    pub role: Role,
}

/// The model cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Namespace name to its labels.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub peers: Vec<Peer>,
    /// Policies with the namespace they are created in.
    pub policies: Vec<(String, NetworkPolicy)>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tcp(port: u16) -> Listen {
    Listen {
        port,
        protocol: "TCP".into(),
        name: None,
    }
}

impl Cluster {
    /// The release's pods and policies in `namespace`, plus the outside peers.
    pub fn new(rendered: &Rendered, namespace: &str) -> Cluster {
        let mut namespaces = BTreeMap::new();
        for name in [
            namespace,
            "ingress-nginx",
            "kube-system",
            "elsewhere",
            "gateway-system",
        ] {
            namespaces.insert(
                name.to_string(),
                labels(&[("kubernetes.io/metadata.name", name)]),
            );
        }
        let mut peers = Vec::new();
        let mut api_labels = BTreeMap::new();
        for (index, workload) in rendered.workloads().into_iter().enumerate() {
            let pod_labels = workload.pod_labels();
            let component = pod_labels.get(COMPONENT_LABEL).cloned().unwrap_or_default();
            if component == "api" {
                api_labels = pod_labels.clone();
            }
            let listens = workload
                .spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| {
                    Some(Listen {
                        port: u16::try_from(p.container_port).ok()?,
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        name: p.name.clone(),
                    })
                })
                .collect();
            peers.push(Peer {
                name: workload.id(),
                namespace: Some(namespace.to_string()),
                labels: pod_labels,
                ip: IpAddr::V4(Ipv4Addr::new(
                    10,
                    244,
                    0,
                    10 + u8::try_from(index).unwrap_or(200),
                )),
                listens,
                role: Role::Release(component),
            });
        }
        let mut other_release = api_labels.clone();
        other_release.insert("app.kubernetes.io/instance".into(), "other-release".into());
        let app_ports = vec![tcp(8080), tcp(443), tcp(5432)];
        let outside = [
            Peer {
                name: "ingress-nginx controller".into(),
                namespace: Some("ingress-nginx".into()),
                labels: labels(&[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/instance", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ]),
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 1, 5)),
                listens: vec![tcp(80), tcp(443)],
                role: Role::IngressController,
            },
            Peer {
                name: "CoreDNS".into(),
                namespace: Some("kube-system".into()),
                labels: labels(&[("k8s-app", "kube-dns")]),
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 2, 10)),
                listens: vec![
                    Listen {
                        port: 53,
                        protocol: "UDP".into(),
                        name: Some("dns".into()),
                    },
                    tcp(53),
                ],
                role: Role::Dns,
            },
            Peer {
                name: "Gateway proxy".into(),
                namespace: Some("gateway-system".into()),
                labels: labels(&[("app.kubernetes.io/name", "envoy")]),
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 4, 5)),
                listens: vec![tcp(80), tcp(443)],
                role: Role::Gateway,
            },
            Peer {
                name: "NodeLocal DNSCache".into(),
                namespace: None,
                labels: BTreeMap::new(),
                ip: IpAddr::V4(Ipv4Addr::new(169, 254, 20, 10)),
                listens: vec![
                    Listen {
                        port: 53,
                        protocol: "UDP".into(),
                        name: None,
                    },
                    tcp(53),
                ],
                role: Role::NodeLocalDns,
            },
            Peer {
                name: "Kubernetes API server".into(),
                namespace: None,
                labels: BTreeMap::new(),
                // minikube's API server address; 443, 6443 and 8443 are the usual ports.
                ip: IpAddr::V4(Ipv4Addr::new(192, 168, 49, 2)),
                listens: vec![tcp(443), tcp(6443), tcp(8443)],
                role: Role::ApiServer,
            },
            Peer {
                name: "stranger pod in the release namespace".into(),
                namespace: Some(namespace.to_string()),
                labels: labels(&[("app", "stranger")]),
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 0, 201)),
                listens: app_ports.clone(),
                role: Role::Other,
            },
            Peer {
                name: "api pod of another release".into(),
                namespace: Some(namespace.to_string()),
                labels: other_release,
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 0, 202)),
                listens: app_ports.clone(),
                role: Role::Other,
            },
            Peer {
                name: "api twin in another namespace".into(),
                namespace: Some("elsewhere".into()),
                labels: api_labels,
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 3, 10)),
                listens: app_ports.clone(),
                role: Role::Other,
            },
            Peer {
                name: "ingress-nginx look-alike in another namespace".into(),
                namespace: Some("elsewhere".into()),
                labels: labels(&[("app.kubernetes.io/name", "ingress-nginx")]),
                ip: IpAddr::V4(Ipv4Addr::new(10, 244, 3, 11)),
                listens: vec![tcp(80), tcp(443)],
                role: Role::Other,
            },
            Peer {
                name: "internet host".into(),
                namespace: None,
                labels: BTreeMap::new(),
                ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)),
                listens: vec![tcp(443), tcp(5432), tcp(80), tcp(22)],
                role: Role::Other,
            },
        ];
        peers.extend(outside);
        let policies = rendered
            .network_policies()
            .map(|p| (namespace.to_string(), p.clone()))
            .collect();
        Cluster {
            namespaces,
            peers,
            policies,
        }
    }

    /// Whether `source` can open a connection to `destination` on `port`: egress allowed by
    /// the source's policies and ingress allowed by the destination's.
    pub fn allowed(&self, source: &Peer, destination: &Peer, port: &Listen) -> bool {
        self.direction_allowed(source, destination, destination, port, Direction::Egress)
            && self.direction_allowed(destination, source, destination, port, Direction::Ingress)
    }

    /// `subject`'s policies of `direction` allow traffic with `other`. `destination` is the
    /// peer whose port is addressed (named ports resolve against it).
    fn direction_allowed(
        &self,
        subject: &Peer,
        other: &Peer,
        destination: &Peer,
        port: &Listen,
        direction: Direction,
    ) -> bool {
        let Some(namespace) = &subject.namespace else {
            return true;
        };
        let selecting: Vec<&NetworkPolicy> = self
            .policies
            .iter()
            .filter(|(ns, _)| ns == namespace)
            .map(|(_, policy)| policy)
            .filter(|policy| {
                policy.spec.as_ref().is_some_and(|spec| {
                    selector_matches(
                        &spec.pod_selector.clone().unwrap_or_default(),
                        &subject.labels,
                    ) && policy_types(policy).contains(&direction)
                })
            })
            .collect();
        if selecting.is_empty() {
            // Not isolated in this direction.
            return true;
        }
        selecting.iter().any(|policy| {
            let Some(spec) = &policy.spec else {
                return false;
            };
            match direction {
                Direction::Ingress => spec.ingress.iter().flatten().any(|rule| {
                    self.peers_match(rule.from.as_deref(), namespace, other)
                        && ports_match(rule.ports.as_deref(), destination, port)
                }),
                Direction::Egress => spec.egress.iter().flatten().any(|rule| {
                    self.peers_match(rule.to.as_deref(), namespace, other)
                        && ports_match(rule.ports.as_deref(), destination, port)
                }),
            }
        })
    }

    fn peers_match(
        &self,
        peers: Option<&[NetworkPolicyPeer]>,
        policy_namespace: &str,
        other: &Peer,
    ) -> bool {
        let Some(peers) = peers.filter(|p| !p.is_empty()) else {
            return true;
        };
        peers
            .iter()
            .any(|peer| self.peer_matches(peer, policy_namespace, other))
    }

    fn peer_matches(&self, peer: &NetworkPolicyPeer, policy_namespace: &str, other: &Peer) -> bool {
        if let Some(block) = &peer.ip_block {
            return cidr_contains(&block.cidr, other.ip)
                && !block
                    .except
                    .iter()
                    .flatten()
                    .any(|except| cidr_contains(except, other.ip));
        }
        let Some(namespace) = &other.namespace else {
            return false;
        };
        let namespace_ok = match &peer.namespace_selector {
            Some(selector) => self
                .namespaces
                .get(namespace)
                .is_some_and(|labels| selector_matches(selector, labels)),
            None => namespace == policy_namespace,
        };
        let pod_ok = match &peer.pod_selector {
            Some(selector) => selector_matches(selector, &other.labels),
            None => peer.namespace_selector.is_some(),
        };
        namespace_ok && pod_ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// policyTypes, defaulted the Kubernetes way: Ingress always, Egress when egress rules exist.
fn policy_types(policy: &NetworkPolicy) -> Vec<Direction> {
    let Some(spec) = &policy.spec else {
        return Vec::new();
    };
    match &spec.policy_types {
        Some(types) => types
            .iter()
            .filter_map(|t| match t.as_str() {
                "Ingress" => Some(Direction::Ingress),
                "Egress" => Some(Direction::Egress),
                _ => None,
            })
            .collect(),
        None => {
            let mut types = vec![Direction::Ingress];
            if spec.egress.is_some() {
                types.push(Direction::Egress);
            }
            types
        }
    }
}

fn ports_match(ports: Option<&[NetworkPolicyPort]>, destination: &Peer, port: &Listen) -> bool {
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        return true;
    };
    ports.iter().any(|rule| {
        let protocol = rule.protocol.as_deref().unwrap_or("TCP");
        if protocol != port.protocol {
            return false;
        }
        match &rule.port {
            None => true,
            Some(IntOrString::Int(number)) => {
                let end = rule.end_port.unwrap_or(*number);
                (*number..=end).contains(&i32::from(port.port))
            }
            // A named port is looked up among the destination pod's container ports.
            Some(IntOrString::String(name)) => destination.listens.iter().any(|l| {
                l.name.as_deref() == Some(name.as_str())
                    && l.port == port.port
                    && l.protocol == port.protocol
            }),
        }
    })
}

/// Whether `cidr` (IPv4 or IPv6) contains `ip`. A malformed CIDR contains nothing.
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((network, length)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(network), Ok(length)) = (network.parse::<IpAddr>(), length.parse::<u32>()) else {
        return false;
    };
    match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) if length <= 32 => {
            let mask = if length == 0 {
                0
            } else {
                u32::MAX << (32 - length)
            };
            u32::from(network) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(ip)) if length <= 128 => {
            let mask = if length == 0 {
                0
            } else {
                u128::MAX << (128 - length)
            };
            u128::from(network) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn egress_covers(egress: &Option<ExternalEgress>, destination: &Peer, port: &Listen) -> bool {
    egress.as_ref().is_some_and(|egress| {
        port.protocol == "TCP"
            && egress.ports.contains(&port.port)
            && egress
                .cidrs
                .iter()
                .any(|cidr| cidr_contains(cidr, destination.ip))
            && !egress
                .except
                .iter()
                .any(|cidr| cidr_contains(cidr, destination.ip))
    })
}

/// The documented paths (values.yaml, `networkPolicy`), for a connection from `source` to
/// `destination` on `port`:
///   ingress controller -> web, api, mcp (http)   web -> api   api -> mcp
///   api, mcp -> PostgreSQL (in-cluster) or the external database CIDRs
///   api -> LLM CIDRs (when an LLM key is set)    test pods -> web, api, mcp
///   web, api, mcp, test pods -> DNS (53 UDP and TCP), also node-local DNS caches
///   Gateway proxies -> web, api, mcp (when gateway.enabled)
///   backup job -> PostgreSQL, DNS          nothing -> the Kubernetes API server
pub fn documented(
    expect: &NetworkPolicyExpectation,
    source: &Peer,
    destination: &Peer,
    port: &Listen,
) -> bool {
    let http = port.protocol == "TCP" && port.port == 8080;
    let from = |c: &str| source.role == Role::Release(c.to_string());
    let to = |c: &str| destination.role == Role::Release(c.to_string());
    let to_service = to("web") || to("api") || to("mcp");
    if destination.role == Role::ApiServer || source.role == Role::ApiServer {
        return false;
    }
    let node_local = destination.role == Role::NodeLocalDns
        && expect
            .node_local_dns
            .iter()
            .any(|address| cidr_contains(&with_prefix(address), destination.ip));
    (source.role == Role::IngressController && expect.ingress_controller && to_service && http)
        || (source.role == Role::Gateway && expect.gateway && to_service && http)
        || (from("backup")
            && to("postgresql")
            && port.protocol == "TCP"
            && Some(port.port) == expect.postgres_port)
        || ((from("web") || from("api") || from("mcp") || from("test") || from("backup"))
            && node_local
            && port.port == 53)
        || (from("backup") && destination.role == Role::Dns && port.port == 53)
        || (from("web") && to("api") && http)
        || (from("api") && to("mcp") && http)
        || (from("test") && to_service && http)
        || ((from("api") || from("mcp"))
            && to("postgresql")
            && port.protocol == "TCP"
            && Some(port.port) == expect.postgres_port)
        || ((from("web") || from("api") || from("mcp") || from("test"))
            && destination.role == Role::Dns
            && port.port == 53)
        || ((from("api") || from("mcp"))
            && egress_covers(&expect.external_database, destination, port))
        || (from("api") && egress_covers(&expect.llm, destination, port))
}

/// An address as a CIDR (a bare address is a /32 or /128).
fn with_prefix(address: &str) -> String {
    if address.contains('/') {
        address.to_string()
    } else if address.contains(':') {
        format!("{address}/128")
    } else {
        format!("{address}/32")
    }
}

/// A connection whose state differs from the documented one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub source: String,
    pub destination: String,
    pub port: u16,
    pub protocol: String,
    /// True: open but not documented. False: documented but closed.
    pub open: bool,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.open {
            "open but not documented"
        } else {
            "documented but closed"
        };
        write!(
            f,
            "{what}: {} -> {} port {}/{}",
            self.source, self.destination, self.port, self.protocol
        )
    }
}

/// Every connection between two peers (at least one of them a release pod) whose state
/// differs from [`documented`]. Empty means: exactly the documented paths are open.
pub fn open_paths(cluster: &Cluster, expect: &NetworkPolicyExpectation) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    for source in &cluster.peers {
        for destination in &cluster.peers {
            if source.name == destination.name {
                continue;
            }
            let ours = matches!(source.role, Role::Release(_))
                || matches!(destination.role, Role::Release(_));
            if !ours {
                continue;
            }
            for port in &destination.listens {
                let open = cluster.allowed(source, destination, port);
                if open != documented(expect, source, destination, port) {
                    mismatches.push(Mismatch {
                        source: source.name.clone(),
                        destination: destination.name.clone(),
                        port: port.port,
                        protocol: port.protocol.clone(),
                        open,
                    });
                }
            }
        }
    }
    mismatches
}
