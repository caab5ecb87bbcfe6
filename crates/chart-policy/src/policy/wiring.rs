//! How the services are wired: referenced Secrets and ConfigMaps exist, each service gets the settings it needs, and the database connection budget holds at peak scale.

use super::*;

/// Every configMapKeyRef and secretKeyRef resolves: to a rendered ConfigMap/Secret with
/// that key, or to a Secret the operator provides per the values. References are never
/// optional, and each operator secret is actually used.
pub fn references(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("references");
    let mut used_operator_secrets = BTreeSet::new();
    for workload in rendered.workloads() {
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let mut names = BTreeSet::new();
            for var in container.env.iter().flatten() {
                report.check(
                    names.insert(var.name.clone()),
                    &id,
                    format!("{} is set twice", var.name),
                );
                let Some(from) = &var.value_from else {
                    continue;
                };
                if let Some(reference) = &from.config_map_key_ref {
                    report.check(
                        reference.optional != Some(true),
                        &id,
                        format!("{} is optional", var.name),
                    );
                    let found = rendered
                        .config_maps()
                        .find(|cm| cm.metadata.name.as_deref() == Some(reference.name.as_str()));
                    match found {
                        Some(cm) => report.check(
                            cm.data
                                .as_ref()
                                .is_some_and(|d| d.contains_key(&reference.key)),
                            &id,
                            format!(
                                "{}: ConfigMap {} has no key {}",
                                var.name, reference.name, reference.key
                            ),
                        ),
                        None => report.fail(
                            &id,
                            format!("{}: ConfigMap {} is not rendered", var.name, reference.name),
                        ),
                    }
                }
                if let Some(reference) = &from.secret_key_ref {
                    report.check(
                        reference.optional != Some(true),
                        &id,
                        format!("{} is optional", var.name),
                    );
                    let pair = (reference.name.clone(), reference.key.clone());
                    let rendered_secret = rendered
                        .secrets()
                        .find(|s| s.metadata.name.as_deref() == Some(reference.name.as_str()));
                    match rendered_secret {
                        Some(secret) => report.check(
                            secret
                                .data
                                .as_ref()
                                .is_some_and(|d| d.contains_key(&reference.key)),
                            &id,
                            format!(
                                "{}: Secret {} has no key {}",
                                var.name, reference.name, reference.key
                            ),
                        ),
                        None if expect.operator_secrets.contains(&pair) => {
                            used_operator_secrets.insert(pair);
                        }
                        None => report.fail(
                            &id,
                            format!(
                                "{}: Secret {} key {} is neither rendered nor named in the values",
                                var.name, reference.name, reference.key
                            ),
                        ),
                    }
                }
            }
        }
    }
    for (name, key) in &expect.operator_secrets {
        if !used_operator_secrets.contains(&(name.clone(), key.clone())) {
            report.fail(
                format!("Secret/{name}"),
                format!("named in the values (key {key}) but no container uses it"),
            );
        }
    }
    report.violations
}

/// A container's variable as the pod would see it: literal, or the referenced ConfigMap or
/// rendered Secret value. None when it comes from elsewhere (operator secrets).
pub(super) fn resolve_env(
    rendered: &Rendered,
    container: &Container,
    name: &str,
) -> Option<String> {
    let var = container.env.iter().flatten().find(|v| v.name == name)?;
    if let Some(value) = &var.value {
        return Some(value.clone());
    }
    let from = var.value_from.as_ref()?;
    if let Some(reference) = &from.config_map_key_ref {
        return rendered
            .config_maps()
            .find(|cm| cm.metadata.name.as_deref() == Some(reference.name.as_str()))?
            .data
            .as_ref()?
            .get(&reference.key)
            .cloned();
    }
    if let Some(reference) = &from.secret_key_ref {
        let secret = rendered
            .secrets()
            .find(|s| s.metadata.name.as_deref() == Some(reference.name.as_str()))?;
        return secret
            .data
            .as_ref()?
            .get(&reference.key)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned());
    }
    None
}

pub(super) fn secret_ref_of(container: &Container, name: &str) -> Option<(String, String)> {
    let reference = container
        .env
        .iter()
        .flatten()
        .find(|v| v.name == name)?
        .value_from
        .as_ref()?
        .secret_key_ref
        .as_ref()?;
    Some((reference.name.clone(), reference.key.clone()))
}

/// The in-cluster PostgreSQL's container, when the render has one.
pub(super) fn postgres_container(rendered: &Rendered) -> Option<Container> {
    rendered
        .workloads()
        .into_iter()
        .find(|w| w.component().as_deref() == Some("postgresql"))
        .and_then(|w| w.spec.containers.first().cloned())
}

/// The services' environment contract and how they find each other: API_URL and MCP_URL
/// name the rendered Services and ports, PORT is the "http" port, DATABASE_URL reaches the
/// in-cluster PostgreSQL with its password.
pub fn wiring(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("wiring");
    let required: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        (
            "api",
            vec![
                "PORT",
                "RUST_LOG",
                "LOG_FORMAT",
                "DATABASE_URL",
                "JWT_SECRET",
                "MCP_URL",
                "LLM_BASE_URL",
                "LLM_MODEL",
                "DATABASE_MAX_CONNECTIONS",
            ],
        ),
        (
            "mcp",
            vec![
                "PORT",
                "RUST_LOG",
                "LOG_FORMAT",
                "DATABASE_URL",
                "JWT_SECRET",
                "DATABASE_MAX_CONNECTIONS",
            ],
        ),
        (
            "web",
            vec!["PORT", "RUST_LOG", "LOG_FORMAT", "API_URL", "COOKIE_SECURE"],
        ),
    ]);
    let service_url = |component: &str| -> Option<String> {
        let service = rendered.service_of(component)?;
        let port = service.spec.as_ref()?.ports.as_ref()?.first()?.port;
        Some(format!(
            "http://{}:{port}",
            service.metadata.name.as_deref()?
        ))
    };
    let postgres_service = rendered.service_of("postgresql");
    let postgres_container = postgres_container(rendered);

    let mut seen = BTreeSet::new();
    for workload in rendered
        .workloads()
        .into_iter()
        .filter(|w| w.kind == "Deployment")
    {
        let component = workload.component().unwrap_or_default();
        let Some(names) = required.get(component.as_str()) else {
            report.fail(
                workload.id(),
                format!("Deployment of unknown component {component:?}"),
            );
            continue;
        };
        seen.insert(component.clone());
        let Some(container) = workload.component_container() else {
            report.fail(workload.id(), format!("no container named {component}"));
            continue;
        };
        let id = format!("{} container {}", workload.id(), container.name);
        let present: BTreeSet<&str> = container
            .env
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        for name in names {
            report.check(present.contains(name), &id, format!("{name} is not set"));
        }
        report.check(
            present.contains("LLM_API_KEY") == (component == "api" && expect.llm_key),
            &id,
            "LLM_API_KEY is set exactly when llm.existingSecret is",
        );
        let http_port = container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("http"))
            .map(|p| p.container_port);
        report.check(
            http_port == Some(SERVICE_PORT),
            &id,
            format!("container port http is {http_port:?}"),
        );
        report.check(
            resolve_env(rendered, container, "PORT") == Some(SERVICE_PORT.to_string()),
            &id,
            "PORT is not the http container port",
        );
        match component.as_str() {
            "web" => {
                let want = service_url("api");
                let got = resolve_env(rendered, container, "API_URL");
                report.check(
                    got.is_some() && got == want,
                    &id,
                    format!("API_URL is {got:?}, the api Service is {want:?}"),
                );
                let secure = expect
                    .ingress
                    .as_ref()
                    .is_some_and(|i| i.tls_secret.is_some());
                let got = resolve_env(rendered, container, "COOKIE_SECURE");
                report.check(
                    got.as_deref() == Some(if secure { "true" } else { "false" }),
                    &id,
                    format!("COOKIE_SECURE is {got:?} with TLS {secure}"),
                );
            }
            "api" => {
                let want = service_url("mcp").map(|url| format!("{url}/mcp"));
                let got = resolve_env(rendered, container, "MCP_URL");
                report.check(
                    got.is_some() && got == want,
                    &id,
                    format!("MCP_URL is {got:?}, the mcp Service is {want:?}"),
                );
                let init = workload
                    .spec
                    .init_containers
                    .iter()
                    .flatten()
                    .find(|c| c.name == "migrate");
                report.check(
                    init.is_some() == expect.migrations,
                    &id,
                    format!(
                        "migrate init container present: {}, migrations.enabled: {}",
                        init.is_some(),
                        expect.migrations
                    ),
                );
                if let Some(init) = init {
                    report.check(
                        init.args.as_deref() == Some(&["migrate".to_string()][..]),
                        &id,
                        "migrate init container does not run `migrate`",
                    );
                    let api_db = container
                        .env
                        .iter()
                        .flatten()
                        .filter(|v| DATABASE_CONNECTION_ENV.contains(&v.name.as_str()))
                        .cloned()
                        .collect::<Vec<_>>();
                    let init_db = init
                        .env
                        .iter()
                        .flatten()
                        .filter(|v| DATABASE_CONNECTION_ENV.contains(&v.name.as_str()))
                        .cloned()
                        .collect::<Vec<_>>();
                    report.check(
                        api_db == init_db,
                        &id,
                        "migrate init container has another database configuration than api",
                    );
                }
            }
            _ => {}
        }
        if component == "web" {
            for name in SECRET_ENV {
                report.check(
                    !present.contains(name),
                    &id,
                    format!("web gets {name}, which it does not need"),
                );
            }
            continue;
        }
        // The in-cluster database: URL to its Service, password of its container.
        if let (Some(pg), Some(pg_service), Some(pg_container)) =
            (&expect.postgresql, postgres_service, &postgres_container)
        {
            let host = pg_service.metadata.name.clone().unwrap_or_default();
            let password_ref = secret_ref_of(pg_container, "POSTGRES_PASSWORD");
            let url = resolve_env(rendered, container, "DATABASE_URL");
            if pg.generated_password {
                let password = password_ref.as_ref().and_then(|(name, key)| {
                    rendered
                        .secrets()
                        .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
                        .and_then(|s| {
                            s.data
                                .as_ref()?
                                .get(key)
                                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                        })
                });
                let want = password.map(|password| {
                    format!(
                        "postgres://{}:{password}@{host}:{}/{}?sslmode=disable",
                        pg.username, pg.port, pg.database
                    )
                });
                report.check(
                    url.is_some() && url == want,
                    &id,
                    "DATABASE_URL does not reach the in-cluster PostgreSQL with its generated password",
                );
            } else {
                report.check(
                    secret_ref_of(container, "DATABASE_PASSWORD") == password_ref
                        && password_ref.is_some(),
                    &id,
                    "DATABASE_PASSWORD is not PostgreSQL's password",
                );
                let want = format!(
                    "postgres://{}:$(DATABASE_PASSWORD)@{host}:{}/{}?sslmode=disable",
                    pg.username, pg.port, pg.database
                );
                report.check(
                    url.as_deref() == Some(want.as_str()),
                    &id,
                    format!("DATABASE_URL is {url:?}, want {want}"),
                );
            }
        }
    }
    for component in SERVICES {
        report.check(
            seen.contains(component),
            format!("Deployment of {component}"),
            "not rendered",
        );
    }
    report.check(
        postgres_container.is_some() == expect.postgresql.is_some(),
        "StatefulSet of postgresql",
        format!(
            "rendered: {}, expected: {}",
            postgres_container.is_some(),
            expect.postgresql.is_some()
        ),
    );
    report.violations
}

/// PostgreSQL's default max_connections, and the slots it keeps for superusers.
pub const POSTGRES_DEFAULT_MAX_CONNECTIONS: i64 = 100;

pub const POSTGRES_RESERVED_CONNECTIONS: i64 = 3;

/// A service's pool size when DATABASE_MAX_CONNECTIONS is unset.
pub const SERVICE_DEFAULT_POOL: i64 = 10;

/// Pods of a Deployment at full scale-out: the HPA's maximum (or the replicas), plus the pods a
/// rollout adds on top (maxSurge; Kubernetes' default is 25%, rounded up).
pub(super) fn peak_pods(rendered: &Rendered, component: &str) -> Option<i64> {
    let deployment = rendered
        .deployments()
        .find(|d| label(&d.metadata.labels, COMPONENT_LABEL) == Some(component))?;
    let spec = deployment.spec.as_ref()?;
    let pods = rendered
        .autoscalers()
        .find(|h| label(&h.metadata.labels, COMPONENT_LABEL) == Some(component))
        .and_then(|h| h.spec.as_ref())
        .map(|s| i64::from(s.max_replicas))
        .unwrap_or(i64::from(spec.replicas.unwrap_or(1)));
    let surge = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_surge.clone())
        .unwrap_or(IntOrString::String("25%".into()));
    let surge = match surge {
        IntOrString::Int(n) => i64::from(n),
        IntOrString::String(percent) => {
            let percent: i64 = percent.trim_end_matches('%').parse().ok()?;
            (pods * percent + 99) / 100
        }
    };
    Some(pods + surge)
}

/// `max_connections` from a postgres container's arguments (`-c max_connections=N`).
pub(super) fn max_connections(container: &Container) -> Option<i64> {
    container
        .args
        .iter()
        .flatten()
        .chain(container.command.iter().flatten())
        .find_map(|arg| {
            arg.trim_start_matches("-c")
                .trim()
                .strip_prefix("max_connections=")
        })
        .and_then(|n| n.parse().ok())
}

/// The services' database pools fit the in-cluster PostgreSQL even at full scale-out during a
/// rollout: otherwise new pods fail to connect exactly when load is highest. (An external
/// database's limit is not in the render; `database.poolSize` documents it.)
pub fn connection_budget(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("connections");
    let Some(postgres) = postgres_container(rendered) else {
        return report.violations;
    };
    let available = max_connections(&postgres).unwrap_or(POSTGRES_DEFAULT_MAX_CONNECTIONS)
        - POSTGRES_RESERVED_CONNECTIONS;
    let mut needed = 0;
    let mut parts = Vec::new();
    for workload in rendered
        .workloads()
        .into_iter()
        .filter(|w| w.kind == "Deployment")
    {
        let component = workload.component().unwrap_or_default();
        let Some(container) = workload.component_container() else {
            continue;
        };
        if !container
            .env
            .iter()
            .flatten()
            .any(|v| v.name == "DATABASE_URL")
        {
            continue;
        }
        let pool = match resolve_env(rendered, container, "DATABASE_MAX_CONNECTIONS") {
            None => SERVICE_DEFAULT_POOL,
            Some(value) => match value.parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    report.fail(
                        workload.id(),
                        format!("DATABASE_MAX_CONNECTIONS is {value:?}, not a number"),
                    );
                    continue;
                }
            },
        };
        let Some(pods) = peak_pods(rendered, &component) else {
            report.fail(workload.id(), "cannot tell its peak pod count");
            continue;
        };
        needed += pods * pool;
        parts.push(format!("{component} {pods} pods x {pool}"));
    }
    report.check(
        needed <= available,
        "postgresql",
        format!(
            "the services may open {needed} connections ({}) but PostgreSQL accepts {available}",
            parts.join(", ")
        ),
    );
    report.violations
}
