//! OpenTelemetry traces across the real services: todo-web, todo-api and todo-mcp run as their
//! own processes (the binaries `cargo test --workspace` builds into the target directory) on a
//! throwaway PostgreSQL, each exporting OTLP/HTTP to a receiver in this test that decodes the
//! protobuf with the `opentelemetry-proto` types. A chat message sent to todo-web with a
//! browser's `traceparent` must give one trace: web's server span under the browser's span,
//! todo-api's under web's, todo-mcp's under api's, database spans under the services' spans,
//! and the trace id in each service's JSON log lines.
//!
//! Run alone: `cargo build -p todo-api -p todo-mcp -p todo-web` first (a missing binary fails
//! the test with that instruction).

#![allow(clippy::unwrap_used)]

use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// Every wait here is bounded by this (services start in well under a second).
const BOUND: Duration = Duration::from_secs(60);

/// One exported span, with the `service.name` of the process that sent it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    attributes: HashMap<String, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => s.clone(),
                AnyValue::IntValue(i) => i.to_string(),
                AnyValue::BoolValue(b) => b.to_string(),
                AnyValue::DoubleValue(d) => d.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

type Spans = Arc<Mutex<Vec<Exported>>>;

/// A real OTLP/HTTP receiver: `POST /v1/traces` with an `ExportTraceServiceRequest`.
async fn receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let store = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let store = store.clone();
            async move {
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
                };
                let mut store = store.lock().unwrap();
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .as_ref()
                        .map(|r| text(&r.attributes))
                        .and_then(|a| a.get("service.name").cloned())
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        for span in scope.spans {
                            store.push(Exported {
                                service: service.clone(),
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent: hex(&span.parent_span_id),
                                name: span.name.clone(),
                                kind: span.kind,
                                attributes: text(&span.attributes),
                            });
                        }
                    }
                }
                (
                    axum::http::StatusCode::OK,
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

/// The service binaries next to this test's (target/debug/deps/trace-* -> target/debug).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds it; alone, run \
         `cargo build -p todo-api -p todo-mcp -p todo-web` first",
        path.display()
    );
    path
}

struct Service {
    _child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(name: &str, port: u16, env: &[(&str, String)]) -> Service {
    let mut child = tokio::process::Command::new(binary(name))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("OTEL_SERVICE_NAME", name)
        // Export within a moment instead of the default 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });
    Service {
        _child: child,
        lines,
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(started.elapsed() < BOUND, "{base} was not ready in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A browser without JavaScript: one cookie jar, the CSRF token of the last page.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
}

impl Browser {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, String) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request.header("cookie", cookie).send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let first = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = first.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let marker = "<meta name=\"csrf-token\" content=\"";
        if let Some(start) = body.find(marker).map(|i| i + marker.len())
            && let Some(len) = body[start..].find('"')
        {
            self.csrf = body[start..start + len].to_owned();
        }
        (status, body)
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut fields = fields.to_vec();
        let csrf = self.csrf.clone();
        fields.push(("csrf", &csrf));
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&fields).unwrap());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_a_chat_message_from_web_through_api_and_mcp_to_the_database() {
    let (collector, spans) = receiver().await;
    let pg = throwaway_postgres::PgServer::start().unwrap();
    let database_url = pg.create_database("todo").unwrap();
    let (api_port, mcp_port, web_port) = (free_port(), free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let mcp = format!("http://127.0.0.1:{mcp_port}");
    let web = format!("http://127.0.0.1:{web_port}");
    let env = vec![
        ("DATABASE_URL", database_url),
        (
            "JWT_SECRET",
            "trace-test-secret-0123456789abcdef0123".to_owned(),
        ),
        ("MCP_URL", format!("{mcp}/mcp")),
        ("MCP_PUBLIC_URL", format!("{mcp}/mcp")),
        ("MCP_AUTHORIZATION_SERVERS", api.clone()),
        ("OAUTH_ISSUER", api.clone()),
        ("API_URL", api.clone()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector),
    ];
    let services = [
        ("todo-api", spawn("todo-api", api_port, &env)),
        ("todo-mcp", spawn("todo-mcp", mcp_port, &env)),
        ("todo-web", spawn("todo-web", web_port, &env)),
    ];
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for base in [&api, &mcp, &web] {
        wait_ready(&client, base).await;
    }

    let mut browser = Browser {
        client,
        base: web.clone(),
        cookies: HashMap::new(),
        csrf: String::new(),
    };
    browser.get("/signup").await;
    let (status, body) = browser
        .post(
            "/signup",
            &[
                ("name", "Trace Tester"),
                ("email", "trace@example.com"),
                ("password", "correct horse battery"),
                ("next", ""),
            ],
            &[],
        )
        .await;
    assert_eq!(status, 303, "sign-up failed: {body}");
    browser.get("/tasks").await;
    // The browser's own span: the web server span must be its child.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let browser_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{browser_span}-01");
    let (status, body) = browser
        .post(
            "/chat",
            &[
                ("message", "add water the plants friday"),
                ("conversation_id", ""),
                ("client_message_id", ""),
                ("back", ""),
            ],
            &[("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(status, 303, "the chat message failed: {body}");

    // Wait (bounded) until every service's part of the trace has arrived.
    let started = Instant::now();
    let trace = loop {
        let trace: Vec<Exported> = spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect();
        let server_of = |service: &str| {
            trace
                .iter()
                .any(|s| s.service == service && s.kind == SpanKind::Server as i32)
        };
        let has_db = trace
            .iter()
            .any(|s| s.attributes.get("db.system.name").map(String::as_str) == Some("postgresql"));
        if server_of("todo-web") && server_of("todo-api") && server_of("todo-mcp") && has_db {
            break trace;
        }
        assert!(
            started.elapsed() < BOUND,
            "the trace is incomplete after {BOUND:?}: {trace:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let by_id: HashMap<&str, &Exported> = trace.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let parent_of = |span: &Exported| by_id.get(span.parent.as_str()).copied();
    // Every span but the web server span hangs off a span of this trace that was exported.
    for span in &trace {
        if span.parent != browser_span {
            assert!(
                parent_of(span).is_some(),
                "the parent of {span:?} is not in the trace"
            );
        }
    }
    let server = |service: &str, route: &str| {
        trace
            .iter()
            .find(|s| {
                s.service == service
                    && s.kind == SpanKind::Server as i32
                    && s.attributes.get("http.route").map(String::as_str) == Some(route)
            })
            .unwrap_or_else(|| panic!("no {service} server span for {route}: {trace:#?}"))
    };
    let web_span = server("todo-web", "/chat");
    assert_eq!(
        web_span.parent, browser_span,
        "web's span is the browser's child"
    );
    assert_eq!(web_span.name, "POST /chat");
    assert_eq!(web_span.attributes["http.response.status_code"], "303");
    // A server span's parent is a span of the service that called it.
    let api_span = server("todo-api", "/api/chat");
    assert_eq!(
        parent_of(api_span).unwrap().service,
        "todo-web",
        "{api_span:?}"
    );
    assert_eq!(api_span.attributes["http.response.status_code"], "200");
    let mcp_span = trace
        .iter()
        .find(|s| s.service == "todo-mcp" && s.kind == SpanKind::Server as i32)
        .unwrap();
    assert_eq!(
        parent_of(mcp_span).unwrap().service,
        "todo-api",
        "{mcp_span:?}"
    );
    // Database spans: clients of PostgreSQL under a span of the service that queried.
    let db: Vec<&Exported> = trace
        .iter()
        .filter(|s| s.attributes.get("db.system.name").map(String::as_str) == Some("postgresql"))
        .collect();
    for span in &db {
        assert_eq!(span.kind, SpanKind::Client as i32, "{span:?}");
        assert!(!span.attributes["db.query.text"].is_empty(), "{span:?}");
        assert_eq!(parent_of(span).unwrap().service, span.service, "{span:?}");
    }
    assert!(
        db.iter().any(|s| s.service == "todo-mcp") && db.iter().any(|s| s.service == "todo-api"),
        "both api and mcp query the database in a chat turn: {db:#?}"
    );
    // The new task was written by the MCP tool, inside this trace.
    assert!(
        db.iter()
            .any(|s| s.service == "todo-mcp" && s.attributes["db.query.text"].contains("tasks")),
        "{db:#?}"
    );

    // The JSON log lines of each service's part carry the trace id (and a span of it).
    for (name, service) in &services {
        let lines = service.lines.lock().unwrap().clone();
        let line = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["trace_id"] == trace_id)
            .unwrap_or_else(|| {
                panic!(
                    "no {name} log line with the trace id in:\n{}",
                    lines.join("\n")
                )
            });
        let span_id = line["span_id"].as_str().unwrap();
        let span = by_id
            .get(span_id)
            .unwrap_or_else(|| panic!("{name} logged span {span_id}, which was not exported"));
        assert_eq!(&span.service, name);
    }
}
