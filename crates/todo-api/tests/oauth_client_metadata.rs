//! OAuth Client ID Metadata Documents against a real todo-api, a real PostgreSQL and a real
//! HTTP server on loopback serving the documents (allowed only by the test-only escape,
//! `OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK`, set here on the fetcher directly): the whole flow
//! with a URL `client_id`, caching (one fetch per lifetime, shared through the database),
//! the document's redirect URIs enforced, and every refusal naming its problem: SSRF
//! (loopback after DNS resolution, private, link-local metadata, mapped IPv6, http), a
//! `client_id` that is not the URL, a secret, redirects, size, time, content type, status.
//! Also: the metadata advertises the support, and OpenID discovery is a JSON 404.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use todo_oauth::client_metadata::FetchPolicy;
use todo_oauth::metadata_fetch::Fetcher;
use todo_oauth::pkce;
use todo_store::{PoolSettings, Store};

/// The document server: its base URL, how often `/good.json` was fetched, and the redirect
/// URIs `/good.json` lists (changeable, to see a refetch take effect).
#[derive(Clone)]
struct Docs {
    base: String,
    /// Fetches of `/good.json` (max-age=3600) and `/short.json` (max-age=0).
    hits: Arc<AtomicUsize>,
    short_hits: Arc<AtomicUsize>,
    redirects: Arc<Mutex<Vec<String>>>,
}

const CALLBACK: &str = "http://127.0.0.1:7777/callback";

async fn good(State(d): State<Docs>) -> Response {
    d.hits.fetch_add(1, Ordering::SeqCst);
    document(&d, "/good.json", "max-age=3600")
}

async fn short(State(d): State<Docs>) -> Response {
    d.short_hits.fetch_add(1, Ordering::SeqCst);
    document(&d, "/short.json", "max-age=0")
}

fn document(d: &Docs, path: &str, cache: &'static str) -> Response {
    let redirects = d.redirects.lock().unwrap().clone();
    (
        [(header::CACHE_CONTROL, cache)],
        axum::Json(json!({
            "client_id": format!("{}{path}", d.base),
            "client_name": "Metadata Host",
            "redirect_uris": redirects,
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        })),
    )
        .into_response()
}

async fn docs() -> Docs {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let d = Docs {
        base: base.clone(),
        hits: Arc::default(),
        short_hits: Arc::default(),
        redirects: Arc::new(Mutex::new(vec![CALLBACK.to_owned()])),
    };
    let own = |path: &str| format!("{base}{path}");
    let (mismatch, secret, html, big) = (
        own("/mismatch.json"),
        own("/secret.json"),
        own("/html.json"),
        own("/big.json"),
    );
    let app = Router::new()
        .route("/good.json", get(good))
        .route("/short.json", get(short))
        .route(
            "/mismatch.json",
            get(move || async move {
                let _ = mismatch;
                axum::Json(json!({"client_id": "https://someone-else.example/c.json",
                                  "redirect_uris": [CALLBACK]}))
            }),
        )
        .route(
            "/secret.json",
            get(move || async move {
                axum::Json(json!({"client_id": secret, "client_secret": "s3cret",
                                  "redirect_uris": [CALLBACK]}))
            }),
        )
        .route(
            "/html.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    json!({"client_id": html, "redirect_uris": [CALLBACK]}).to_string(),
                )
            }),
        )
        .route(
            "/big.json",
            get(move || async move {
                axum::Json(json!({"client_id": big, "redirect_uris": [CALLBACK],
                                  "padding": "x".repeat(10_000)}))
            }),
        )
        .route(
            "/redirect.json",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/good.json")]) }),
        )
        .route(
            "/gone.json",
            get(|| async { (StatusCode::NOT_FOUND, "no such document") }),
        )
        .route(
            "/slow.json",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .with_state(d.clone());
    tokio::spawn(axum::serve(listener, app).into_future());
    d
}

struct Api {
    base: String,
    http: reqwest::Client,
}

/// todo-api with the metadata fetcher under `policy`.
async fn api(policy: FetchPolicy) -> Api {
    api_with(policy, 1000).await
}

/// ... and this many registrations (or document fetches) per address and minute.
async fn api_with(policy: FetchPolicy, registrations_per_minute: u32) -> Api {
    let url = throwaway_postgres::fresh_database().unwrap();
    let mut config = common::config(&url);
    config.auth.register_attempts_per_minute = registrations_per_minute;
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let mut state = todo_api::state::AppState::new(&config, store.clone(), None);
    let mut server = (*state.oauth).clone();
    server.fetcher = Fetcher::new(policy);
    state.oauth = Arc::new(server);
    let app = todo_api::app(state, &todo_api::health(&store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .into_future(),
    );
    Api {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// The test-only escape, a short timeout, and no lower cache bound (so `max-age=0` means
/// fetch every time).
fn lax() -> FetchPolicy {
    FetchPolicy {
        allow_loopback: true,
        timeout: Duration::from_secs(2),
        min_ttl: Duration::ZERO,
        ..FetchPolicy::default()
    }
}

const VERIFIER: &str = "metadata-verifier-metadata-verifier-metadata-1";

fn params(client_id: &str, redirect_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", redirect_uri.into()),
        ("code_challenge", pkce::challenge_of(VERIFIER)),
        ("code_challenge_method", "S256".into()),
        ("state", "s-1".into()),
        ("scope", "tasks:read".into()),
    ]
}

fn enc(pairs: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

impl Api {
    async fn authorize(&self, client_id: &str, redirect_uri: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/oauth/authorize?{}",
                self.base,
                enc(&params(client_id, redirect_uri))
            ))
            .send()
            .await
            .unwrap()
    }

    /// The refusal of an authorization request for `client_id`: (field, message).
    async fn refusal(&self, client_id: &str) -> (String, String) {
        let r = self.authorize(client_id, CALLBACK).await;
        assert!(r.headers().get("location").is_none(), "{client_id}");
        let (status, body) = json_of(r).await;
        assert_eq!(status, 400, "{client_id}: {body}");
        (
            body["error"]["field"].as_str().unwrap_or("").to_owned(),
            body["error"]["message"].as_str().unwrap_or("").to_owned(),
        )
    }
}

#[tokio::test]
async fn a_client_identified_by_its_metadata_document_connects_and_is_cached() {
    let d = docs().await;
    let api = api(lax()).await;
    let client_id = format!("{}/good.json", d.base);

    let (status, meta) = json_of(
        api.http
            .get(format!(
                "{}/.well-known/oauth-authorization-server",
                api.base
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        meta["client_id_metadata_document_supported"], true,
        "{meta}"
    );

    // No registration: the authorization request alone fetches the document.
    let r = api
        .authorize(&client_id, "http://127.0.0.1:40001/callback")
        .await;
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    assert_eq!(d.hits.load(Ordering::SeqCst), 1);

    // The consent page names the client from its document; the flow completes.
    let (status, session) = json_of(
        api.http
            .post(format!("{}/api/auth/register", api.base))
            .json(&json!({"email": "cimd@x.io", "password": "correct horse battery staple 4", "name": "C"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let user = session["token"].as_str().unwrap();
    let p = params(&client_id, "http://127.0.0.1:40001/callback");
    let (status, preview) = json_of(
        api.http
            .get(format!("{}/oauth/consent?{}", api.base, enc(&p)))
            .bearer_auth(user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["client_name"], "Metadata Host");
    let mut decision: serde_json::Map<String, Value> =
        p.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    decision.insert("approve".into(), json!(true));
    let (status, decided) = json_of(
        api.http
            .post(format!("{}/oauth/consent", api.base))
            .bearer_auth(user)
            .json(&decision)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    let to = decided["redirect_to"].as_str().unwrap();
    let code = form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (status, tokens) = json_of(
        api.http
            .post(format!("{}/oauth/token", api.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc(&[
                ("grant_type", "authorization_code".into()),
                ("code", code),
                ("redirect_uri", "http://127.0.0.1:40001/callback".into()),
                ("client_id", client_id.clone()),
                ("code_verifier", VERIFIER.into()),
            ]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "tasks:read");
    // Preview, decision and exchange used the cached copy (max-age=3600).
    assert_eq!(d.hits.load(Ordering::SeqCst), 1);

    // A redirect URI the document does not list: refused here, never redirected to.
    let r = api
        .authorize(&client_id, "https://evil.example/callback")
        .await;
    assert_eq!(r.status(), 400);
    let (_, e) = json_of(r).await;
    assert_eq!(e["error"]["field"], "redirect_uri", "{e}");

    // A document that may not be cached (max-age=0, no lower bound here) is fetched on
    // every request, and what it says now is what counts: a removed redirect URI is refused.
    let short_id = format!("{}/short.json", d.base);
    assert_eq!(api.authorize(&short_id, CALLBACK).await.status(), 302);
    assert_eq!(d.short_hits.load(Ordering::SeqCst), 1);
    *d.redirects.lock().unwrap() = vec!["http://127.0.0.1:9/other".to_owned()];
    let r = api.authorize(&short_id, CALLBACK).await;
    assert_eq!(r.status(), 400);
    let (_, e) = json_of(r).await;
    assert_eq!(e["error"]["field"], "redirect_uri", "{e}");
    assert_eq!(d.short_hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        api.authorize(&short_id, "http://127.0.0.1:9/other")
            .await
            .status(),
        302
    );
    assert_eq!(d.short_hits.load(Ordering::SeqCst), 3);
    // The cacheable one still answers from its (database) copy, old redirect URI and all.
    assert_eq!(api.authorize(&client_id, CALLBACK).await.status(), 302);
    assert_eq!(d.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_documents_are_refused_naming_the_problem() {
    let d = docs().await;
    let api = api(lax()).await;
    for (path, says) in [
        ("/mismatch.json", "must be the document's own URL"),
        ("/secret.json", "client_secret"),
        ("/html.json", "must be application/json"),
        ("/big.json", "larger than 5120 bytes"),
        ("/redirect.json", "redirects are not followed"),
        ("/gone.json", "404"),
        ("/slow.json", "took longer than 2 s"),
    ] {
        let (field, message) = api.refusal(&format!("{}{path}", d.base)).await;
        assert_eq!(field, "client_id", "{path}");
        assert!(message.contains(says), "{path}: {message}");
    }
    // Even with the test-only escape, only loopback is let through: not private or
    // link-local addresses.
    for (id, says) in [
        ("http://10.0.0.1/c.json", "a private address"),
        (
            "http://169.254.169.254/latest/meta-data/c",
            "a link-local address",
        ),
    ] {
        let (_, message) = api.refusal(id).await;
        assert!(message.contains(says), "{id}: {message}");
    }
    assert_eq!(d.hits.load(Ordering::SeqCst), 0);
    // An unknown non-URL client id still says how to register.
    let (_, message) = api.refusal("not-registered").await;
    assert!(message.contains("/oauth/register"), "{message}");
}

#[tokio::test]
async fn without_the_test_escape_private_addresses_are_never_fetched() {
    let d = docs().await;
    let api = api(FetchPolicy::default()).await;
    let port = d.base.rsplit(':').next().unwrap().to_owned();
    for (id, says) in [
        (format!("{}/good.json", d.base), "must be https"),
        (
            format!("https://127.0.0.1:{port}/good.json"),
            "a loopback address",
        ),
        // A name is screened after DNS resolution: localhost resolves to loopback.
        (
            format!("https://localhost:{port}/good.json"),
            "resolves to 127.0.0.1, a loopback address",
        ),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/good.json"),
            "a loopback address",
        ),
        (
            "https://[fd00:ec2::254]/latest".to_owned(),
            "a unique-local (private) address",
        ),
        (
            "https://169.254.169.254/latest/meta-data/c".to_owned(),
            "a link-local address",
        ),
        (
            "https://192.168.1.20/c.json".to_owned(),
            "a private address",
        ),
        ("https://app.example.com/".to_owned(), "has no path"),
        (
            "https://app.example.com/a/../c.json".to_owned(),
            "dot segment",
        ),
    ] {
        let (field, message) = api.refusal(&id).await;
        assert_eq!(field, "client_id", "{id}");
        assert!(message.contains(says), "{id}: {message}");
    }
    assert_eq!(
        d.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn openid_discovery_is_a_json_404_pointing_at_the_oauth_metadata() {
    let api = api(lax()).await;
    let r = api
        .http
        .get(format!("{}/.well-known/openid-configuration", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let (_, body) = json_of(r).await;
    assert_eq!(body["error"]["code"], "NOT_AN_OPENID_PROVIDER", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/.well-known/oauth-authorization-server"),
        "{body}"
    );
}

#[tokio::test]
async fn fetching_documents_spends_the_registration_budget_of_the_address() {
    let d = docs().await;
    let api = api_with(lax(), 2).await;
    let good = format!("{}/good.json", d.base);
    let short = format!("{}/short.json", d.base);
    assert_eq!(api.authorize(&good, CALLBACK).await.status(), 302);
    assert_eq!(api.authorize(&short, CALLBACK).await.status(), 302);
    // A cached document costs nothing...
    assert_eq!(api.authorize(&good, CALLBACK).await.status(), 302);
    assert_eq!(d.hits.load(Ordering::SeqCst), 1);
    // ...a fetch past the budget is refused before anything is fetched.
    let r = api.authorize(&short, CALLBACK).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let (_, e) = json_of(r).await;
    assert_eq!(e["error"]["code"], "RATE_LIMITED", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("client metadata documents"),
        "{e}"
    );
    assert_eq!(d.short_hits.load(Ordering::SeqCst), 1);
}
