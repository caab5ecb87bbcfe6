//! The real stack in-process for the route tests: todo-mcp and todo-api on a fresh
//! PostgreSQL database, todo-web in front, each on a loopback port; and a small "browser"
//! that keeps cookies, reads the CSRF token from each page and never follows redirects by
//! itself (so tests see every 303 and Set-Cookie).
#![allow(dead_code, clippy::unwrap_used)]

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use service_kit::Env;
use std::collections::BTreeMap;
use std::time::Duration;

pub const SECRET: &str = "web-test-secret-web-test-secret-web!";

pub struct Stack {
    pub web: String,
    pub api: String,
    /// The stack's database, for tests that reach past the services.
    pub db: String,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

fn stopper(
    stops: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) -> impl Future<Output = ()> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    async move {
        let _ = rx.await;
    }
}

pub struct Options {
    pub with_chat: bool,
    pub cookie_secure: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            with_chat: true,
            cookie_secure: false,
        }
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Stack {
        Stack::start_with_env(options, Vec::new()).await
    }

    /// The stack with todo-api's LLM engine pointed at `llm_url` (the scripted server of
    /// todo-chat's tests).
    pub async fn start_with_llm(llm_url: &str) -> Stack {
        Stack::start_with_env(
            Options::default(),
            vec![
                ("LLM_BASE_URL", llm_url.to_owned()),
                ("LLM_MODEL", "scripted".to_owned()),
                ("LLM_TIMEOUT_SECONDS", "20".to_owned()),
            ],
        )
        .await
    }

    async fn start_with_env(options: Options, extra: Vec<(&'static str, String)>) -> Stack {
        let db = throwaway_postgres::fresh_database().unwrap();
        let mut stops = Vec::new();
        let mut api_env = vec![
            ("DATABASE_URL", db.clone()),
            ("JWT_SECRET", SECRET.to_owned()),
            ("LOG_FORMAT", "text".to_owned()),
            ("LOGIN_ATTEMPTS_PER_MINUTE", "1000".to_owned()),
            ("REGISTER_ATTEMPTS_PER_MINUTE", "1000".to_owned()),
            ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
        ];
        if options.with_chat {
            let (l, mcp) = listener().await;
            let env = Env::from_pairs(api_env.iter().map(|(k, v)| (*k, v.as_str())));
            let config = todo_mcp::Config::from_env(&env).unwrap();
            tokio::spawn(todo_mcp::run(config, l, stopper(&mut stops)));
            api_env.push(("MCP_URL", format!("{mcp}/mcp")));
        }
        api_env.extend(extra);
        let (l, api) = listener().await;
        let env = Env::from_pairs(api_env.iter().map(|(k, v)| (*k, v.as_str())));
        let config = todo_api::config::Config::from_env(&env).unwrap();
        tokio::spawn(todo_api::run(config, l, stopper(&mut stops)));
        wait_ready(&api).await;
        let web = start_web(&api, options.cookie_secure, &mut stops).await;
        Stack {
            web,
            api,
            db,
            stops,
        }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.web)
    }
}

/// todo-web alone, pointed at `api_url` (which may be a closed port).
pub async fn start_web(
    api_url: &str,
    cookie_secure: bool,
    stops: &mut Vec<tokio::sync::oneshot::Sender<()>>,
) -> String {
    let (l, web) = listener().await;
    let secure = if cookie_secure { "true" } else { "false" };
    let env = Env::from_pairs([
        ("API_URL", api_url),
        ("COOKIE_SECURE", secure),
        ("LOG_FORMAT", "text"),
        ("API_TIMEOUT_SECONDS", "5"),
    ]);
    let config = todo_web::config::Config::from_env(&env).unwrap();
    tokio::spawn(todo_web::run(config, l, stopper(stops)));
    web
}

/// todo-web with nothing listening at its API_URL.
pub struct LonelyWeb {
    pub web: String,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

pub async fn web_without_api() -> LonelyWeb {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut stops = Vec::new();
    let web = start_web(&format!("http://127.0.0.1:{port}"), false, &mut stops).await;
    LonelyWeb { web, _stops: stops }
}

pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base} did not become ready");
}

/// A response as the tests look at it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` value for `name`, if this response sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The text of the element with this id (up to its closing tag), tags stripped.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let start = self.body.find(&marker)?;
        let open_end = start + self.body[start..].find('>')? + 1;
        let tag_start = self.body[..start].rfind('<')?;
        let tag: String = self.body[tag_start + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let close = format!("</{tag}>");
        let end = open_end + self.body[open_end..].find(&close)?;
        Some(strip_tags(&self.body[open_end..end]))
    }

    /// The page's text, tags stripped and entities decoded.
    pub fn text(&self) -> String {
        strip_tags(&self.body)
    }

    /// The CSRF token the page carries.
    pub fn csrf(&self) -> Option<String> {
        let marker = "<meta name=\"csrf-token\" content=\"";
        let start = self.body.find(marker)? + marker.len();
        let end = start + self.body[start..].find('"')?;
        Some(self.body[start..end].to_owned())
    }

    /// The tasks shown, as (number, row classes) in page order.
    pub fn task_rows(&self) -> Vec<(i64, String)> {
        let mut rows = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("<li class=\"task") {
            rest = &rest[i + 11..];
            let class_end = rest.find('"').unwrap();
            let class = rest[..class_end].to_owned();
            let id_at = rest.find("id=\"task-").unwrap() + 9;
            let num: String = rest[id_at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            rows.push((num.parse().unwrap(), class));
        }
        rows
    }
}

pub fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A browser without JavaScript: cookies, forms, manual redirects.
pub struct Browser {
    pub base: String,
    client: reqwest::Client,
    pub jar: BTreeMap<String, String>,
    /// The CSRF token of the last HTML page seen.
    pub csrf: String,
    pub extra_headers: Vec<(String, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
            csrf: String::new(),
            extra_headers: Vec::new(),
        }
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        if self.jar.is_empty() {
            return None;
        }
        let v = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&v).ok()
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req;
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        for (k, v) in &self.extra_headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let r = req.send().await.unwrap();
        let page = Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        };
        for c in page.set_cookies() {
            let first = c.split(';').next().unwrap_or("");
            let (name, value) = first.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(t) = page.csrf() {
            self.csrf = t;
        }
        page
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(self.url(path));
        self.send(req).await
    }

    /// Posts a form with the current CSRF token added.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("csrf", &csrf));
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// Posts `body` as it is, with this content type and the CSRF token in its header.
    pub async fn post_body(&mut self, path: &str, content_type: &str, body: &str) -> Page {
        let req = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .header("x-csrf-token", self.csrf.clone())
            .body(body.to_owned());
        self.send(req).await
    }

    /// A form post with this browser's cookies and CSRF token, to read its answer as it
    /// comes (a stream) instead of whole.
    pub fn post_request(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &self.csrf));
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&all).unwrap());
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        req
    }

    /// GETs a redirect's target (a path, possibly with a fragment).
    pub async fn follow(&mut self, page: &Page) -> Page {
        assert_eq!(
            page.status, 303,
            "expected a redirect, got {}: {}",
            page.status, page.body
        );
        let to = page.location().split('#').next().unwrap().to_owned();
        self.get(&to).await
    }

    /// Signs up through the form and lands on the tasks page.
    pub async fn sign_up(&mut self, email: &str) -> Page {
        self.get("/signup").await;
        let r = self
            .post(
                "/signup",
                &[
                    ("name", "Ann Tester"),
                    ("email", email),
                    ("password", "correct horse"),
                    ("next", ""),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        self.follow(&r).await
    }
}

/// A JWT-shaped token with these claims and a bogus signature (todo-web only reads claims
/// for display; the API verifies).
pub fn fake_token(exp: i64) -> String {
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        enc(r#"{"alg":"HS256","typ":"JWT"}"#),
        enc(&format!(
            r#"{{"sub":"00000000-0000-4000-8000-000000000000","email":"x@x.io","name":"Forged","iss":"todo-chatbot","iat":0,"exp":{exp}}}"#
        )),
        enc("not-a-signature")
    )
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
