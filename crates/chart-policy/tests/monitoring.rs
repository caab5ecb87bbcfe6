//! The chart's observability objects, rendered by real Helm with `monitoring.*` on: the
//! ServiceMonitors select the Services, a real `promtool check rules` accepts the
//! PrometheusRule (and refuses a broken one), every query of the Grafana dashboard names a
//! metric that a real service-kit server exports (scraped over HTTP), and the NetworkPolicy
//! lets the configured Prometheus namespace reach web, api and mcp. The chart defaults render
//! none of it. Needs helm (`.ci/install/10-helm.sh`) and promtool
//! (`.ci/install/45-prometheus.sh`).

#![allow(clippy::unwrap_used)]

use chart_policy::monitoring::{self, PROMETHEUS_INSTALLER};
use chart_policy::tools::{self, Helm, RenderRequest};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

fn render(request: &RenderRequest) -> Vec<Value> {
    let helm = Helm::primary().unwrap();
    monitoring::documents(&helm.template(request).unwrap()).unwrap()
}

#[test]
fn chart_defaults_render_no_monitoring_objects() {
    let docs = render(&RenderRequest::new());
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        assert!(
            monitoring::of_kind(&docs, kind).is_empty(),
            "{kind} rendered by default"
        );
    }
    assert!(monitoring::dashboard(&docs).is_err());
    assert!(
        !docs.iter().any(|d| d["metadata"]["name"] == "todo-metrics"),
        "the Prometheus NetworkPolicy is rendered without monitoring.prometheus"
    );
}

#[test]
fn service_monitors_select_each_service_on_its_http_port() {
    let docs = render(&monitoring::request());
    let monitors = monitoring::of_kind(&docs, "ServiceMonitor");
    assert_eq!(monitors.len(), 3);
    let services = monitoring::of_kind(&docs, "Service");
    for component in ["api", "mcp", "web"] {
        let monitor = monitors
            .iter()
            .find(|m| m["metadata"]["name"] == format!("todo-{component}"))
            .unwrap_or_else(|| panic!("no ServiceMonitor todo-{component}"));
        let selector = monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap();
        let selected: Vec<&&Value> = services
            .iter()
            .filter(|s| {
                selector
                    .iter()
                    .all(|(k, v)| &s["metadata"]["labels"][k] == v)
            })
            .collect();
        assert_eq!(selected.len(), 1, "todo-{component} selects {selected:?}");
        assert_eq!(selected[0]["metadata"]["name"], format!("todo-{component}"));
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["port"], "http");
        assert_eq!(endpoint["path"], "/metrics");
        assert_eq!(endpoint["honorLabels"], true);
        assert!(
            selected[0]["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "http")
        );
    }
}

#[test]
fn promtool_accepts_the_rendered_alerts_and_refuses_a_broken_rule() {
    let promtool = tools::find_tool("promtool", PROMETHEUS_INSTALLER).unwrap();
    let docs = render(&monitoring::request());
    let rules = monitoring::rule_groups(&docs).unwrap();
    let out = monitoring::promtool_check_rules(&promtool, &rules).unwrap();
    assert!(out.contains("SUCCESS"), "{out}");
    for alert in [
        "TodoHighErrorRatio",
        "TodoHighLatency",
        "TodoDatabaseUnreachable",
        "TodoPodCrashLooping",
        "TodoHpaAtMax",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "{alert} missing:\n{rules}"
        );
    }
    // The check is real: a syntax error in an expression is refused.
    let broken = rules.replacen("> 0.05", "> > 0.05", 1);
    assert_ne!(broken, rules);
    assert!(monitoring::promtool_check_rules(&promtool, &broken).is_err());
}

#[test]
fn the_prometheus_namespace_may_reach_web_api_and_mcp_only() {
    let docs = render(&monitoring::request());
    let policy = docs
        .iter()
        .find(|d| d["kind"] == "NetworkPolicy" && d["metadata"]["name"] == "todo-metrics")
        .expect("no todo-metrics NetworkPolicy");
    let components: BTreeSet<&str> = policy["spec"]["podSelector"]["matchExpressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "app.kubernetes.io/component")
        .unwrap()["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(components, BTreeSet::from(["api", "mcp", "web"]));
    let rule = &policy["spec"]["ingress"][0];
    assert_eq!(
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        monitoring::PROMETHEUS_NAMESPACE
    );
    assert_eq!(rule["ports"][0]["port"], "http");
    assert_eq!(
        policy["spec"]["policyTypes"],
        serde_json::json!(["Ingress"])
    );
}

/// A real service-kit server (the exporter every service uses) after one of each event.
async fn scrape_a_real_server() -> String {
    let health = service_kit::Health::new("todo-api", "0.0.0");
    let app = axum::Router::new()
        .route("/api/tasks", axum::routing::get(|| async { "[]" }))
        .merge(health.routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(service_kit::serve(
        listener,
        app,
        health,
        std::future::pending(),
        service_kit::ServeSettings::with_grace(Duration::from_secs(1)),
    ));
    use service_kit::metrics as m;
    m::chat_turn("builtin", "ok");
    m::mcp_tool_call("list_tasks", "ok", Duration::from_millis(3));
    m::record_llm_call("llm", "ok", Duration::from_millis(300), 10, 5);
    m::login_failure("bad_credentials");
    m::db_query_error("unavailable");
    m::watch_db_pool(|| m::PoolStats::new(2, 1, 10, true));
    let client = reqwest::Client::new();
    client
        .get(format!("http://{addr}/api/tasks"))
        .send()
        .await
        .unwrap();
    // A rate limit's 429 is counted by the HTTP layer.
    let limited = axum::Router::new().route(
        "/api/auth/login",
        axum::routing::post(|| async { axum::http::StatusCode::TOO_MANY_REQUESTS }),
    );
    let limited_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let limited_addr = limited_listener.local_addr().unwrap();
    let limited_health = service_kit::Health::new("todo-api", "0.0.0");
    tokio::spawn(service_kit::serve(
        limited_listener,
        limited,
        limited_health,
        std::future::pending(),
        service_kit::ServeSettings::with_grace(Duration::from_secs(1)),
    ));
    client
        .post(format!("http://{limited_addr}/api/auth/login"))
        .send()
        .await
        .unwrap();
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_dashboard_query_names_a_metric_a_real_scrape_exports() {
    let docs = render(&monitoring::request());
    let dashboard = monitoring::dashboard(&docs).unwrap();
    // The ConfigMap carries the chart's dashboard file unchanged.
    let file = std::fs::read_to_string(tools::chart_dir().join("dashboards/todo.json")).unwrap();
    assert_eq!(dashboard, serde_json::from_str::<Value>(&file).unwrap());
    let scrape = scrape_a_real_server().await;
    let exported = monitoring::exported_families(&scrape);
    let queries = monitoring::dashboard_queries(&dashboard);
    assert!(queries.len() >= 15, "{queries:?}");
    let mut used = BTreeSet::new();
    for query in &queries {
        let names = monitoring::metric_names(query);
        assert!(!names.is_empty(), "the query names no metric: {query}");
        for name in names {
            assert!(
                exported.contains(&name),
                "the dashboard queries {name}, which the services do not export ({query}); exported: {exported:?}"
            );
            used.insert(name);
        }
    }
    // The dashboard covers what the issue asks for.
    for family in [
        "http_server_requests_total",
        "http_server_request_duration_seconds",
        "todo_db_pool_connections",
        "todo_chat_turns_total",
        "todo_mcp_tool_calls_total",
        "todo_llm_call_duration_seconds",
    ] {
        assert!(
            used.contains(family),
            "the dashboard does not show {family}"
        );
    }
}

#[test]
fn scrape_annotations_mark_only_the_services_pods() {
    let pods = |request: &RenderRequest| -> Vec<(String, Value)> {
        render(request)
            .into_iter()
            .filter(|d| matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet")))
            .map(|d| {
                let name = d["metadata"]["name"].as_str().unwrap().to_owned();
                (
                    name,
                    d["spec"]["template"]["metadata"]["annotations"].clone(),
                )
            })
            .collect()
    };
    for (name, annotations) in pods(&RenderRequest::new()) {
        assert!(
            annotations.get("prometheus.io/scrape").is_none(),
            "{name} annotated by default"
        );
    }
    let annotated = pods(&RenderRequest::new().set("monitoring.scrapeAnnotations=true"));
    assert!(annotated.len() >= 4, "{annotated:?}");
    for (name, annotations) in annotated {
        if name.ends_with("postgresql") {
            assert!(annotations.get("prometheus.io/scrape").is_none(), "{name}");
            continue;
        }
        assert_eq!(annotations["prometheus.io/scrape"], "true", "{name}");
        assert_eq!(annotations["prometheus.io/path"], "/metrics", "{name}");
        assert_eq!(annotations["prometheus.io/port"], "8080", "{name}");
    }
}
