//! What a render must contain for its values: images, replicas, autoscaling, the
//! in-cluster database, operator-provided Secrets, the Ingress and the NetworkPolicy paths
//! that depend on values. Built from the effective values of a scenario.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use serde_json::Value;

use crate::policy::SERVICES;

/// Autoscaling settings of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaling {
    pub min: i32,
    pub max: i32,
    pub target_cpu: i32,
}

/// What a render must contain for one service (api, mcp, web).
#[derive(Debug, Clone)]
pub struct ServiceExpectation {
    /// Full image reference of the service's containers.
    pub image: String,
    pub replicas: i32,
    pub autoscaling: Option<Autoscaling>,
    pub pdb: bool,
    pub topology_spread: bool,
    pub pre_stop_sleep_seconds: i64,
    pub service_port: i32,
    /// `<component>.service.type`: ClusterIP or NodePort.
    pub service_type: String,
    /// `<component>.image.pullPolicy`.
    pub pull_policy: String,
}

/// The in-cluster PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresExpectation {
    pub port: i32,
    pub username: String,
    pub database: String,
    /// The chart generates the password (no postgresql.auth.existingSecret).
    pub generated_password: bool,
}

/// The Ingress.
#[derive(Debug, Clone)]
pub struct IngressExpectation {
    pub class: String,
    pub host: String,
    pub tls_secret: Option<String>,
    /// ingress.extraHosts: more rules with the same paths.
    pub extra_hosts: Vec<String>,
    /// ingress.extraTls entries (hosts, secret name).
    pub extra_tls: Vec<(Vec<String>, String)>,
}

/// Egress to addresses outside the cluster.
#[derive(Debug, Clone)]
pub struct ExternalEgress {
    pub cidrs: Vec<String>,
    pub except: Vec<String>,
    pub ports: Vec<u16>,
}

/// The NetworkPolicies' documented paths that depend on values.
#[derive(Debug, Clone)]
pub struct NetworkPolicyExpectation {
    pub ingress_controller: bool,
    /// gateway.enabled: the Gateway's pods (networkPolicy.gateway) reach the services.
    pub gateway: bool,
    /// networkPolicy.dns.nodeLocalAddresses: node-local DNS caches the pods may query.
    pub node_local_dns: Vec<String>,
    pub postgres_port: Option<u16>,
    pub external_database: Option<ExternalEgress>,
    pub llm: Option<ExternalEgress>,
}

/// Everything the checks need to know about the values a render was made with.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub services: BTreeMap<String, ServiceExpectation>,
    pub postgresql: Option<PostgresExpectation>,
    /// Secrets (name, key) the operator creates; the chart references but never renders them.
    pub operator_secrets: BTreeSet<(String, String)>,
    pub ingress: Option<IngressExpectation>,
    pub network_policy: Option<NetworkPolicyExpectation>,
    pub migrations: bool,
    pub llm_key: bool,
    /// gateway.enabled: an HTTPRoute is rendered.
    pub gateway: bool,
}

fn at<'a>(values: &'a Value, path: &str) -> anyhow::Result<&'a Value> {
    path.split('.')
        .try_fold(values, |value, key| value.get(key))
        .with_context(|| format!("values have no {path}"))
}

fn text(values: &Value, path: &str) -> anyhow::Result<String> {
    at(values, path)?
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("values: {path} is not a string"))
}

fn int(values: &Value, path: &str) -> anyhow::Result<i64> {
    at(values, path)?
        .as_i64()
        .with_context(|| format!("values: {path} is not an integer"))
}

fn flag(values: &Value, path: &str) -> anyhow::Result<bool> {
    at(values, path)?
        .as_bool()
        .with_context(|| format!("values: {path} is not a boolean"))
}

fn strings(values: &Value, path: &str) -> anyhow::Result<Vec<String>> {
    at(values, path)?
        .as_array()
        .with_context(|| format!("values: {path} is not a list"))?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Ok(other.to_string()),
        })
        .collect()
}

fn i32_of(value: i64, path: &str) -> anyhow::Result<i32> {
    i32::try_from(value).with_context(|| format!("values: {path} out of range"))
}

impl Expectations {
    /// From effective values (see [`crate::scenarios::Scenario::effective_values`]) and the
    /// chart's appVersion.
    pub fn from_values(values: &Value, app_version: &str) -> anyhow::Result<Expectations> {
        let registry = text(values, "image.registry")?;
        let mut services = BTreeMap::new();
        for name in SERVICES {
            let repository = text(values, &format!("{name}.image.repository"))?;
            let tag = text(values, &format!("{name}.image.tag"))?;
            let digest = text(values, &format!("{name}.image.digest"))?;
            let mut image = if registry.is_empty() {
                repository
            } else {
                format!("{}/{repository}", registry.trim_end_matches('/'))
            };
            image = format!(
                "{image}:{}",
                if tag.is_empty() { app_version } else { &tag }
            );
            if !digest.is_empty() {
                image = format!("{image}@{digest}");
            }
            let autoscaling = if flag(values, &format!("{name}.autoscaling.enabled"))? {
                Some(Autoscaling {
                    min: i32_of(
                        int(values, &format!("{name}.autoscaling.minReplicas"))?,
                        "minReplicas",
                    )?,
                    max: i32_of(
                        int(values, &format!("{name}.autoscaling.maxReplicas"))?,
                        "maxReplicas",
                    )?,
                    target_cpu: i32_of(
                        int(
                            values,
                            &format!("{name}.autoscaling.targetCPUUtilizationPercentage"),
                        )?,
                        "targetCPUUtilizationPercentage",
                    )?,
                })
            } else {
                None
            };
            services.insert(
                name.to_string(),
                ServiceExpectation {
                    image,
                    replicas: i32_of(
                        int(values, &format!("{name}.replicaCount"))?,
                        "replicaCount",
                    )?,
                    autoscaling,
                    pdb: flag(values, &format!("{name}.pdb.enabled"))?,
                    topology_spread: flag(values, &format!("{name}.topologySpread.enabled"))?,
                    pre_stop_sleep_seconds: int(values, &format!("{name}.preStopSleepSeconds"))?,
                    service_port: i32_of(
                        int(values, &format!("{name}.service.port"))?,
                        "service.port",
                    )?,
                    service_type: text(values, &format!("{name}.service.type"))?,
                    pull_policy: text(values, &format!("{name}.image.pullPolicy"))?,
                },
            );
        }

        let database_url = text(values, "database.url")?;
        let database_secret = text(values, "database.existingSecret")?;
        let external_database = !database_url.is_empty() || !database_secret.is_empty();
        let postgres_auth_secret = text(values, "postgresql.auth.existingSecret")?;
        let postgresql = if flag(values, "postgresql.enabled")? && !external_database {
            Some(PostgresExpectation {
                port: i32_of(
                    int(values, "postgresql.service.port")?,
                    "postgresql.service.port",
                )?,
                username: text(values, "postgresql.auth.username")?,
                database: text(values, "postgresql.auth.database")?,
                generated_password: postgres_auth_secret.is_empty(),
            })
        } else {
            None
        };

        let mut operator_secrets = BTreeSet::new();
        if !database_secret.is_empty() {
            operator_secrets.insert((database_secret, text(values, "database.existingSecretKey")?));
        }
        let jwt_secret = text(values, "jwt.existingSecret")?;
        if !jwt_secret.is_empty() {
            operator_secrets.insert((jwt_secret, text(values, "jwt.existingSecretKey")?));
        }
        let llm_secret = text(values, "llm.existingSecret")?;
        let llm_key = !llm_secret.is_empty();
        if llm_key {
            operator_secrets.insert((llm_secret, text(values, "llm.existingSecretKey")?));
        }
        if postgresql.is_some() && !postgres_auth_secret.is_empty() {
            operator_secrets.insert((
                postgres_auth_secret,
                text(values, "postgresql.auth.existingSecretKey")?,
            ));
        }

        let ingress_enabled = flag(values, "ingress.enabled")?;
        let ingress = if ingress_enabled {
            Some(IngressExpectation {
                class: text(values, "ingress.className")?,
                host: text(values, "ingress.host")?,
                extra_hosts: strings(values, "ingress.extraHosts")?,
                extra_tls: at(values, "ingress.extraTls")?
                    .as_array()
                    .context("ingress.extraTls is not a list")?
                    .iter()
                    .map(|entry| {
                        let hosts = strings(entry, "hosts")?;
                        Ok((hosts, text(entry, "secretName")?))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
                tls_secret: if flag(values, "ingress.tls.enabled")? {
                    Some(text(values, "ingress.tls.secretName")?)
                } else {
                    None
                },
            })
        } else {
            None
        };

        let port_list = |path: &str| -> anyhow::Result<Vec<u16>> {
            at(values, path)?
                .as_array()
                .with_context(|| format!("values: {path} is not a list"))?
                .iter()
                .map(|p| {
                    p.as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .with_context(|| format!("values: {path}"))
                })
                .collect()
        };
        let network_policy = if flag(values, "networkPolicy.enabled")? {
            Some(NetworkPolicyExpectation {
                ingress_controller: ingress_enabled,
                gateway: flag(values, "gateway.enabled")?,
                // null (removed by Helm) means none.
                node_local_dns: match at(values, "networkPolicy.dns.nodeLocalAddresses") {
                    Ok(_) => strings(values, "networkPolicy.dns.nodeLocalAddresses")?,
                    Err(_) => Vec::new(),
                },
                postgres_port: match &postgresql {
                    Some(pg) => Some(u16::try_from(pg.port).context("postgresql.service.port")?),
                    None => None,
                },
                external_database: if external_database {
                    Some(ExternalEgress {
                        cidrs: strings(values, "networkPolicy.externalDatabase.cidrs")?,
                        except: strings(values, "networkPolicy.externalDatabase.except")?,
                        ports: vec![
                            u16::try_from(int(values, "networkPolicy.externalDatabase.port")?)
                                .context("networkPolicy.externalDatabase.port")?,
                        ],
                    })
                } else {
                    None
                },
                llm: if llm_key {
                    Some(ExternalEgress {
                        cidrs: strings(values, "networkPolicy.llm.cidrs")?,
                        except: strings(values, "networkPolicy.llm.except")?,
                        ports: port_list("networkPolicy.llm.ports")?,
                    })
                } else {
                    None
                },
            })
        } else {
            None
        };

        Ok(Expectations {
            services,
            postgresql,
            operator_secrets,
            ingress,
            network_policy,
            migrations: flag(values, "migrations.enabled")?,
            llm_key,
            gateway: flag(values, "gateway.enabled")?,
        })
    }
}
