//! The whole OAuth 2.1 flow of an MCP host against a real todo-api (authorization server) and
//! todo-mcp (resource server) on loopback ports, one real PostgreSQL: RFC 8414 metadata, RFC
//! 7591 registration, authorization with PKCE S256 and a loopback redirect on another port,
//! consent (the calls todo-web's page makes), code exchange, a tool call, refresh rotation,
//! RFC 7009 revocation, and the negative cases the RFCs name: wrong PKCE verifier, reused
//! code (revokes what it gave), reused refresh token (revokes the family), wrong or
//! unregistered redirect URI, another resource, plain PKCE, missing scope. Then the
//! connected-apps API (listing, disconnecting, only one's own) and a password change, each
//! checked by what todo-mcp and the token endpoint then refuse.
#![allow(clippy::unwrap_used)]

mod common;

use reqwest::redirect::Policy;
use serde_json::{Value, json};
use std::time::Duration;
use todo_oauth::pkce;

struct Stack {
    api: String,
    mcp: String,
    http: reqwest::Client,
    _mcp: common::Running,
    _stop_api: tokio::sync::oneshot::Sender<()>,
}

const REGISTERED: &str = "http://127.0.0.1:33418/callback";
/// The same loopback redirect URI on the port the "host" got this time (RFC 8252 §7.3).
const REDIRECT: &str = "http://127.0.0.1:51234/callback";

async fn stack() -> Stack {
    stack_with(1000).await
}

/// The stack with this many (account or client) registrations per address and minute.
async fn stack_with(registrations_per_minute: u32) -> Stack {
    let mcp = common::start(None, Vec::new()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let chat = todo_api::config::ChatConfig {
        mcp_url: Some(mcp.mcp_url()),
        ..Default::default()
    };
    let config = todo_api::config::Config {
        database_url: mcp.database_url.clone(),
        jwt_secret: common::SECRET.to_owned(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        token_ttl: Duration::from_secs(600),
        login_attempts_per_minute: 1000,
        auth: todo_api::config::AuthLimits {
            register_attempts_per_minute: registrations_per_minute,
            ..todo_api::config::AuthLimits::default()
        },
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(2),
        chat,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(todo_api::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    for _ in 0..250 {
        if http
            .get(format!("{api}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Stack {
        mcp: mcp.mcp_url(),
        api,
        http,
        _mcp: mcp,
        _stop_api: stop,
    }
}

/// A JSON body, or Null.
async fn body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// `application/x-www-form-urlencoded` pairs (query strings and form bodies).
fn enc<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k.as_ref(), v.as_ref());
    }
    q.finish()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

impl Stack {
    /// A signed-in user's bearer token (todo-web holds one in its cookie).
    async fn user(&self, email: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/auth/register", self.api))
            .json(&json!({"email": email, "password": "correct horse battery staple 91!", "name": "U"}))
            .send()
            .await
            .unwrap();
        let (status, b) = body(r).await;
        assert_eq!(status, 201, "{b}");
        b["token"].as_str().unwrap().to_owned()
    }

    async fn register_client(&self) -> String {
        let r = self
            .http
            .post(format!("{}/oauth/register", self.api))
            .json(
                &json!({"redirect_uris": [REGISTERED], "client_name": "Test Host",
                          "token_endpoint_auth_method": "none",
                          "grant_types": ["authorization_code", "refresh_token"]}),
            )
            .send()
            .await
            .unwrap();
        let (status, b) = body(r).await;
        assert_eq!(status, 201, "{b}");
        assert_eq!(b["token_endpoint_auth_method"], "none");
        b["client_id"].as_str().unwrap().to_owned()
    }

    fn params(&self, client: &str, verifier: &str, scope: &str) -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".into()),
            ("client_id", client.into()),
            ("redirect_uri", REDIRECT.into()),
            ("code_challenge", pkce::challenge_of(verifier)),
            ("code_challenge_method", "S256".into()),
            ("state", "st-1".into()),
            ("scope", scope.into()),
            ("resource", self.mcp.clone()),
        ]
    }

    /// The consent decision as todo-web's page posts it; the URL the browser is sent to.
    async fn consent(
        &self,
        user: &str,
        params: &[(&'static str, String)],
        approve: bool,
    ) -> String {
        let mut decision: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        decision.insert("approve".into(), json!(approve));
        let r = self
            .http
            .post(format!("{}/oauth/consent", self.api))
            .bearer_auth(user)
            .json(&decision)
            .send()
            .await
            .unwrap();
        let (status, b) = body(r).await;
        assert_eq!(status, 200, "{b}");
        b["redirect_to"].as_str().unwrap().to_owned()
    }

    /// Approves and returns the code.
    async fn code(&self, user: &str, params: &[(&'static str, String)]) -> String {
        let to = self.consent(user, params, true).await;
        assert!(to.starts_with(&format!("{REDIRECT}?code=")), "{to}");
        let q = query_of(&to);
        assert_eq!(q["state"], "st-1");
        query_of(&to)["code"].clone()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/oauth/token", self.api))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc(form))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        body(r).await
    }

    async fn exchange(&self, client: &str, code: &str, verifier: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
            ("code_verifier", verifier),
            ("resource", &self.mcp),
        ])
        .await
    }

    async fn refresh(&self, client: &str, refresh: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client),
        ])
        .await
    }

    /// Calls a tool on todo-mcp; (HTTP status, body).
    async fn tool(&self, access: &str, name: &str, arguments: Value) -> (u16, Value) {
        let r = self
            .http
            .post(&self.mcp)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(access)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": name, "arguments": arguments}}))
            .send()
            .await
            .unwrap();
        body(r).await
    }
}

const VERIFIER: &str = "verifier-verifier-verifier-verifier-verifier-1";
const OTHER_VERIFIER: &str = "verifier-verifier-verifier-verifier-verifier-2";

#[tokio::test]
async fn an_mcp_host_connects_end_to_end_and_the_lifecycle_holds() {
    let s = stack().await;

    // Discovery: todo-mcp's metadata names the resource; todo-api's the endpoints.
    let (_, prm) = body(
        s.http
            .get(format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                s.mcp.trim_end_matches("/mcp")
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(prm["resource"], s.mcp);
    let (status, asm) = body(
        s.http
            .get(format!("{}/.well-known/oauth-authorization-server", s.api))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{asm}");
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        asm["issuer"], prm["authorization_servers"][0],
        "{asm} {prm}"
    );
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
    ] {
        assert!(
            asm[endpoint]
                .as_str()
                .unwrap()
                .starts_with(asm["issuer"].as_str().unwrap()),
            "{endpoint}"
        );
    }

    let client = s.register_client().await;
    let user = s.user("host@x.io").await;
    let params = s.params(&client, VERIFIER, "tasks:read tasks:write");

    // The browser goes to /oauth/authorize and is sent on to todo-web's consent page.
    let r = s
        .http
        .get(format!("{}/oauth/authorize?{}", s.api, enc(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains(&format!("{}?", todo_oauth::CONSENT_PATH)),
        "{location}"
    );
    assert_eq!(query_of(&location)["client_id"], client);
    // The page asks what to show, naming client and scopes.
    let (status, preview) = body(
        s.http
            .get(format!("{}/oauth/consent?{}", s.api, enc(&params)))
            .bearer_auth(&user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["client_name"], "Test Host");
    assert_eq!(preview["scopes"][0]["scope"], "tasks:read");
    assert_eq!(preview["scopes"][1]["scope"], "tasks:write");
    // Without a signed-in user, no preview and no code.
    let r = s
        .http
        .get(format!("{}/oauth/consent?{}", s.api, enc(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Declining sends access_denied back.
    let denied = s.consent(&user, &params, false).await;
    assert_eq!(query_of(&denied)["error"], "access_denied", "{denied}");

    // Approve, exchange, call a tool.
    let code = s.code(&user, &params).await;
    let (status, tokens) = s.exchange(&client, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "tasks:read tasks:write");
    assert_eq!(tokens["expires_in"], 600);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh1 = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, added) = s
        .tool(&access, "add_task", json!({"title": "via OAuth"}))
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["result"]["isError"], false, "{added}");
    // The access token is not a todo-api token.
    let r = s
        .http
        .get(format!("{}/api/tasks", s.api))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Refresh rotates; the new access token works.
    let (status, t2) = s.refresh(&client, &refresh1).await;
    assert_eq!(status, 200, "{t2}");
    let refresh2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    let access2 = t2["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.tool(&access2, "list_tasks", json!({})).await.0, 200);
    // Narrowing on refresh is allowed, widening is not.
    let (status, narrowed) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh2),
            ("client_id", &client),
            ("scope", "tasks:read"),
        ])
        .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "tasks:read");
    let refresh3 = narrowed["refresh_token"].as_str().unwrap().to_owned();
    let read_only = narrowed["access_token"].as_str().unwrap().to_owned();
    // Missing scope: a read-only token cannot write (403 insufficient_scope).
    let (status, refused) = s.tool(&read_only, "add_task", json!({"title": "no"})).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "INSUFFICIENT_SCOPE");
    // Another client cannot use the refresh token.
    let (status, e) = s.refresh("someone-else", &refresh3).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // Reusing a rotated refresh token revokes the family: the newest refresh token and the
    // access tokens stop working too.
    let (status, e) = s.refresh(&client, &refresh1).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    let (status, e) = s.refresh(&client, &refresh3).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(s.tool(&access2, "list_tasks", json!({})).await.0, 401);

    // Reusing a code: refused, and the tokens it gave are revoked.
    let code = s.code(&user, &params).await;
    let (status, t) = s.exchange(&client, &code, VERIFIER).await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 200);
    let (status, e) = s.exchange(&client, &code, VERIFIER).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 401);

    // RFC 7009: revoking the refresh token ends the grant; its access token is refused.
    let code = s.code(&user, &params).await;
    let (_, t) = s.exchange(&client, &code, VERIFIER).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let r = s
        .http
        .post(format!("{}/oauth/revoke", s.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[
            ("token", refresh.as_str()),
            ("client_id", client.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.refresh(&client, &refresh).await.0, 400);
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 401);
    // Revoking an unknown token is a 200 too (RFC 7009 §2.2).
    let r = s
        .http
        .post(format!("{}/oauth/revoke", s.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(enc(&[("token", "nonsense")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_requests_fail_as_the_rfcs_say() {
    let s = stack().await;
    let client = s.register_client().await;
    let user = s.user("neg@x.io").await;
    let params = s.params(&client, VERIFIER, "tasks:read");

    // Wrong PKCE verifier: invalid_grant, and the code is spent.
    let code = s.code(&user, &params).await;
    let (status, e) = s.exchange(&client, &code, OTHER_VERIFIER).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier"),
        "{e}"
    );
    assert_eq!(s.exchange(&client, &code, VERIFIER).await.0, 400);

    // Wrong redirect URI at the token endpoint (another port than the authorization request's).
    let code = s.code(&user, &params).await;
    let (status, e) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("client_id", &client),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // An unregistered redirect URI: a 400 here, never a redirect to it.
    let mut bad = params.clone();
    bad[2].1 = "https://evil.example/callback".into();
    let r = s
        .http
        .get(format!("{}/oauth/authorize?{}", s.api, enc(&bad)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let (_, e) = body(r).await;
    assert_eq!(e["error"]["field"], "redirect_uri", "{e}");
    // An unknown client: the same.
    let mut bad = params.clone();
    bad[1].1 = "no-such-client".into();
    let r = s
        .http
        .get(format!("{}/oauth/authorize?{}", s.api, enc(&bad)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Errors once the redirect URI is known go back to it with state and iss.
    let redirected = |bad: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let r = s
                .http
                .get(format!("{}/oauth/authorize?{}", s.api, enc(&bad)))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 302);
            let to = r.headers()["location"].to_str().unwrap().to_owned();
            assert!(to.starts_with(REDIRECT), "{to}");
            let q = query_of(&to);
            assert_eq!(q["state"], "st-1");
            q["error"].clone()
        }
    };
    let mut other_resource = params.clone();
    other_resource[7].1 = "https://other.example.com/mcp".into();
    assert_eq!(redirected(other_resource).await, "invalid_target");
    let mut plain = params.clone();
    plain[4].1 = "plain".into();
    assert_eq!(redirected(plain).await, "invalid_request");
    let mut no_pkce = params.clone();
    no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
    assert_eq!(redirected(no_pkce).await, "invalid_request");
    let mut scope = params.clone();
    scope[6].1 = "admin".into();
    assert_eq!(redirected(scope).await, "invalid_scope");
    let mut implicit = params.clone();
    implicit[0].1 = "token".into();
    assert_eq!(redirected(implicit).await, "unsupported_response_type");

    // Token endpoint basics.
    let (status, e) = s
        .token(&[("grant_type", "password"), ("client_id", &client)])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{e}"
    );
    let (status, e) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code", "y"),
            ("client_id", &client),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    // A sign-in session's refresh token is not an OAuth refresh token.
    let login = s
        .http
        .post(format!("{}/api/auth/login", s.api))
        .json(&json!({"email": "neg@x.io", "password": "correct horse battery staple 91!"}))
        .send()
        .await
        .unwrap();
    let (_, login) = body(login).await;
    let session_refresh = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s.refresh(&client, &session_refresh).await.0, 400);
    let r = s
        .http
        .post(format!("{}/api/auth/refresh", s.api))
        .json(&json!({"refresh_token": session_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the failed OAuth attempt must not have used it"
    );

    // Registration errors (RFC 7591 §3.2.2).
    for (meta, error) in [
        (
            json!({"redirect_uris": ["http://example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (json!({"client_name": "x"}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REGISTERED], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REGISTERED], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
    ] {
        let r = s
            .http
            .post(format!("{}/oauth/register", s.api))
            .json(&meta)
            .send()
            .await
            .unwrap();
        let (status, e) = body(r).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some(error)),
            "{meta}: {e}"
        );
    }
}

/// A browser for todo-web: a cookie jar and the page's CSRF token, no automatic redirects.
struct Browser {
    base: String,
    http: reqwest::Client,
    jar: std::collections::BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    csp: String,
    body: String,
}

impl Page {
    /// The value of the first `<input ... name="NAME" value="...">`.
    fn input(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(
            rest[..rest.find('"')?]
                .replace("&amp;", "&")
                .replace("&#x2f;", "/"),
        )
    }
}

impl Browser {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let r = req.header("cookie", cookie).send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (name, value) = c.split(';').next().unwrap().split_once('=').unwrap();
            self.jar.insert(name.to_owned(), value.to_owned());
        }
        let header = |n: &str| {
            r.headers()
                .get(n)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (location, csp) = (header("location"), header("content-security-policy"));
        Page {
            status: r.status().as_u16(),
            location,
            csp,
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(String, String)]) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(enc(fields));
        self.send(req).await
    }
}

#[tokio::test]
async fn the_consent_page_names_the_client_and_sends_the_code_back() {
    let s = stack().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = format!("http://{}", listener.local_addr().unwrap());
    let env = service_kit::Env::from_pairs([
        ("API_URL", s.api.as_str()),
        ("COOKIE_SECURE", "false"),
        ("LOG_FORMAT", "text"),
    ]);
    let config = todo_web::config::Config::from_env(&env).unwrap();
    tokio::spawn(todo_web::run(config, listener, std::future::pending()));
    common::wait_for(&format!("{web}/readyz")).await;
    let mut b = Browser {
        base: web,
        http: s.http.clone(),
        jar: Default::default(),
    };
    let client = s.register_client().await;
    let params = s.params(&client, VERIFIER, "tasks:read");
    let consent = format!("{}?{}", todo_oauth::CONSENT_PATH, enc(&params));

    // Not signed in: to the sign-in page first.
    let r = b.get(&consent).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location.starts_with("/signin"), "{}", r.location);

    let signup = b.get("/signup").await;
    let csrf = signup.input("csrf").unwrap();
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let r = b
        .post(
            "/signup",
            &fields(&[
                ("name", "Web User"),
                ("email", "web@x.io"),
                ("password", "correct horse battery staple 91!"),
                ("next", ""),
                ("csrf", &csrf),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Signed in: the page names the client and the scope, and repeats the request.
    let page = b.get(&consent).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Connect Test Host?"), "{}", page.body);
    assert!(page.body.contains("See your tasks"), "{}", page.body);
    assert!(
        !page.body.contains("Add, change"),
        "only the scope asked for"
    );
    // The form may be sent on to the client's redirect URI (CSP form-action covers redirects).
    assert!(
        page.csp
            .contains("form-action 'self' http://127.0.0.1:51234"),
        "{}",
        page.csp
    );
    let csrf = page.input("csrf").unwrap();
    let mut form: Vec<(String, String)> = params
        .iter()
        .map(|(k, _)| (k.to_string(), page.input(k).unwrap()))
        .collect();
    assert_eq!(
        form,
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Vec<_>>()
    );
    form.push(("csrf".into(), csrf));
    form.push(("decision".into(), "approve".into()));
    let r = b.post(todo_oauth::CONSENT_PATH, &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location.starts_with(&format!("{REDIRECT}?code=")),
        "{}",
        r.location
    );
    let code = query_of(&r.location)["code"].clone();
    let (status, tokens) = s.exchange(&client, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "tasks:read");

    // "Deny" sends access_denied back; no code.
    let page = b.get(&consent).await;
    let mut form: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    form.push(("csrf".into(), page.input("csrf").unwrap()));
    form.push(("decision".into(), "deny".into()));
    let r = b.post(todo_oauth::CONSENT_PATH, &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        query_of(&r.location)["error"],
        "access_denied",
        "{}",
        r.location
    );
    assert!(!r.location.contains("code="));
}

#[tokio::test]
async fn client_registration_is_rate_limited_per_address() {
    let s = stack_with(2).await;
    let register = || {
        s.http
            .post(format!("{}/oauth/register", s.api))
            .json(&json!({"redirect_uris": [REGISTERED]}))
            .send()
    };
    assert_eq!(register().await.unwrap().status(), 201);
    assert_eq!(register().await.unwrap().status(), 201);
    let r = register().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let (_, e) = body(r).await;
    assert_eq!(e["error"]["code"], "RATE_LIMITED", "{e}");
}

impl Stack {
    /// An approved, exchanged grant: (access token, refresh token).
    async fn connect(&self, user: &str, client: &str) -> (String, String) {
        let params = self.params(client, VERIFIER, "tasks:read tasks:write");
        let code = self.code(user, &params).await;
        let (status, t) = self.exchange(client, &code, VERIFIER).await;
        assert_eq!(status, 200, "{t}");
        (
            t["access_token"].as_str().unwrap().to_owned(),
            t["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn apps(&self, user: &str) -> Value {
        let (status, b) = body(
            self.http
                .get(format!("{}/api/oauth/grants", self.api))
                .bearer_auth(user)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{b}");
        b["apps"].clone()
    }

    async fn disconnect(&self, user: &str, client: &str) -> (u16, Value) {
        let id: String = form_urlencoded::byte_serialize(client.as_bytes()).collect();
        body(
            self.http
                .delete(format!("{}/api/oauth/grants/{id}", self.api))
                .bearer_auth(user)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn disconnecting_an_app_revokes_its_tokens_and_only_the_owner_can() {
    let s = stack().await;
    let client = s.register_client().await;
    let ann = s.user("ann-apps@x.io").await;
    let bob = s.user("bob-apps@x.io").await;
    let (ann_access, ann_refresh) = s.connect(&ann, &client).await;
    // Two grants of one client (signed in twice) are one app.
    let (ann_access2, _) = s.connect(&ann, &client).await;
    let (bob_access, bob_refresh) = s.connect(&bob, &client).await;

    let apps = s.apps(&ann).await;
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    assert_eq!(apps[0]["client_id"], client);
    assert_eq!(apps[0]["client_name"], "Test Host");
    assert_eq!(apps[0]["scopes"], json!(["tasks:read", "tasks:write"]));
    for t in ["granted_at", "last_used_at"] {
        let at = apps[0][t].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
            "{t}: {at}"
        );
    }
    // Someone with no grants sees none, and cannot disconnect Ann's app: 404, nothing revoked.
    let eve = s.user("eve-apps@x.io").await;
    assert_eq!(s.apps(&eve).await, json!([]));
    let (status, e) = s.disconnect(&eve, &client).await;
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["error"]["code"], "GRANT_NOT_FOUND");
    assert_eq!(s.tool(&ann_access, "list_tasks", json!({})).await.0, 200);
    // An MCP access token is not a todo-api token: it cannot list or disconnect apps.
    let r = s
        .http
        .get(format!("{}/api/oauth/grants", s.api))
        .bearer_auth(&ann_access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Ann disconnects: every grant of hers to that client dies at once.
    let (status, b) = s.disconnect(&ann, &client).await;
    assert_eq!(status, 204, "{b}");
    assert_eq!(s.tool(&ann_access, "list_tasks", json!({})).await.0, 401);
    assert_eq!(s.tool(&ann_access2, "list_tasks", json!({})).await.0, 401);
    let (status, e) = s.refresh(&client, &ann_refresh).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(s.apps(&ann).await, json!([]));
    assert_eq!(s.disconnect(&ann, &client).await.0, 404, "already gone");
    // Bob's grant of the same client is untouched.
    assert_eq!(s.tool(&bob_access, "list_tasks", json!({})).await.0, 200);
    assert_eq!(s.refresh(&client, &bob_refresh).await.0, 200);
    assert_eq!(s.apps(&bob).await.as_array().unwrap().len(), 1);
    // Without a token: 401.
    let r = s
        .http
        .delete(format!("{}/api/oauth/grants/{client}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn changing_the_password_revokes_every_token_of_the_account() {
    let s = stack().await;
    let client = s.register_client().await;
    const OLD: &str = "correct horse battery staple 91!";
    const NEW: &str = "a different horse, quite unguessable 7";
    let login = |password: &'static str| {
        let s = &s;
        async move {
            body(
                s.http
                    .post(format!("{}/api/auth/login", s.api))
                    .json(&json!({"email": "pw@x.io", "password": password}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let web = s.user("pw@x.io").await;
    let (status, other_device) = login(OLD).await;
    assert_eq!(status, 200, "{other_device}");
    let other_token = other_device["token"].as_str().unwrap().to_owned();
    let other_refresh = other_device["refresh_token"].as_str().unwrap().to_owned();
    let (access, refresh) = s.connect(&web, &client).await;
    // A token that todo-mcp accepts for the same user (the chat agent forwards these).
    assert_eq!(s.tool(&other_token, "list_tasks", json!({})).await.0, 200);

    let change = |token: String, current: &'static str, new: &'static str| {
        let s = &s;
        async move {
            body(
                s.http
                    .post(format!("{}/api/auth/password", s.api))
                    .bearer_auth(token)
                    .json(&json!({"current_password": current, "new_password": new}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    // Refusals name the field, and change nothing.
    for (current, new, status_code, field) in [
        ("wrong password entirely", NEW, 403, "current_password"),
        (OLD, "password1", 422, "new_password"),
        (OLD, "short", 422, "new_password"),
        (OLD, OLD, 422, "new_password"),
    ] {
        let (status, e) = change(web.clone(), current, new).await;
        assert_eq!(status, status_code, "{current} -> {new}: {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
    }
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 200);

    let (status, fresh) = change(web.clone(), OLD, NEW).await;
    assert_eq!(status, 200, "{fresh}");
    let fresh_token = fresh["token"].as_str().unwrap().to_owned();

    // Every earlier token is refused: sign-in tokens (todo-api and todo-mcp), their refresh
    // tokens, the OAuth grant's access and refresh tokens.
    for t in [&web, &other_token] {
        let r = s
            .http
            .get(format!("{}/api/auth/me", s.api))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(s.tool(&other_token, "list_tasks", json!({})).await.0, 401);
    let r = s
        .http
        .post(format!("{}/api/auth/refresh", s.api))
        .json(&json!({"refresh_token": other_refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 401);
    let (status, e) = s.refresh(&client, &refresh).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    // The new session works and lists no connected app; the old password no longer logs in.
    assert_eq!(s.apps(&fresh_token).await, json!([]));
    assert_eq!(login(OLD).await.0, 401);
    assert_eq!(login(NEW).await.0, 200);
}

#[tokio::test]
async fn the_connected_apps_page_lists_an_app_and_disconnects_it() {
    let s = stack().await;
    // todo-web as it runs, for signing up...
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = format!("http://{}", listener.local_addr().unwrap());
    let env = service_kit::Env::from_pairs([
        ("API_URL", s.api.as_str()),
        ("COOKIE_SECURE", "false"),
        ("LOG_FORMAT", "text"),
    ]);
    let config = todo_web::config::Config::from_env(&env).unwrap();
    tokio::spawn(todo_web::run(config, listener, std::future::pending()));
    common::wait_for(&format!("{web}/readyz")).await;
    // ...and the connected-apps handlers behind the same session layer, served apart: the
    // session (token and CSRF secret) lives in the cookies, so the same browser is signed in
    // on both.
    let api = todo_web::api::Api::new(&s.api, Duration::from_secs(10)).unwrap();
    let apps_app = axum::Router::new()
        .route("/apps", axum::routing::get(todo_web::routes::apps::page))
        .route(
            "/apps/disconnect",
            axum::routing::post(todo_web::routes::apps::disconnect),
        )
        .layer(axum::middleware::from_fn_with_state(
            todo_web::session::SessionSettings::default(),
            todo_web::session::middleware_with,
        ))
        .layer(axum::middleware::map_response(
            todo_web::pages::render_rejection,
        ))
        .with_state(todo_web::routes::AppState { api });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let apps_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        axum::serve(
            listener,
            apps_app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .into_future(),
    );

    let mut b = Browser {
        base: web,
        http: s.http.clone(),
        jar: Default::default(),
    };
    let signup = b.get("/signup").await;
    let csrf = signup.input("csrf").unwrap();
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let r = b
        .post(
            "/signup",
            &fields(&[
                ("name", "Apps User"),
                ("email", "apps-web@x.io"),
                ("password", "correct horse battery staple 91!"),
                ("next", ""),
                ("csrf", &csrf),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    b.base = apps_base;

    // Nothing connected yet.
    let page = b.get("/apps").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("No apps are connected."),
        "{}",
        page.body
    );

    // Connect an app through the consent API as the same user (the token in the cookie).
    let login = s
        .http
        .post(format!("{}/api/auth/login", s.api))
        .json(&json!({"email": "apps-web@x.io", "password": "correct horse battery staple 91!"}))
        .send()
        .await
        .unwrap();
    let (_, login) = body(login).await;
    let user = login["token"].as_str().unwrap().to_owned();
    let client = s.register_client().await;
    let (access, refresh) = s.connect(&user, &client).await;

    let page = b.get("/apps").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h2>Test Host</h2>"), "{}", page.body);
    assert!(page.body.contains("See your tasks"), "{}", page.body);
    assert!(page.body.contains("Last used"), "{}", page.body);
    assert!(page.body.contains("Disconnect Test Host"), "{}", page.body);
    assert_eq!(page.input("client_id").as_deref(), Some(client.as_str()));

    // Without the CSRF token the form is refused and nothing is revoked.
    let r = b
        .post("/apps/disconnect", &fields(&[("client_id", &client)]))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 200);

    let r = b
        .post(
            "/apps/disconnect",
            &fields(&[
                ("client_id", &client),
                ("csrf", &page.input("csrf").unwrap()),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/apps?done=disconnected");
    assert_eq!(s.tool(&access, "list_tasks", json!({})).await.0, 401);
    assert_eq!(s.refresh(&client, &refresh).await.0, 400);
    let page = b.get(&r.location).await;
    assert!(
        page.body.contains("The app was disconnected."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("No apps are connected."),
        "{}",
        page.body
    );
    // Disconnecting again: told it is not connected.
    let r = b
        .post(
            "/apps/disconnect",
            &fields(&[
                ("client_id", &client),
                ("csrf", &page.input("csrf").unwrap()),
            ]),
        )
        .await;
    assert_eq!(r.location, "/apps?done=gone");
}
