//! `GET/POST /connect`: the consent page of OAuth for MCP hosts (MCP Authorization,
//! revision 2025-11-25). todo-api's `/oauth/authorize` checks the request and sends the
//! browser here with the same query; the page (signed in: otherwise the sign-in page first)
//! names the client and the scopes, and the decision goes to todo-api's `/oauth/consent`,
//! which answers where to send the browser: the client's redirect URI with a code, or with
//! `error=access_denied`. The protocol rules are todo-api's; this page only shows and asks.

use super::{AppState, SignedIn, to_signin};
use crate::forms::Form;
use crate::pages::{self, html};
use crate::session::{Session, see_other};
use crate::views::Layout;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use std::time::Duration;

/// The parameters of the authorization request, carried through the page unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The consent form: the parameters plus the button pressed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionInput {
    pub decision: String,
    #[serde(flatten)]
    pub params: Params,
}

#[derive(Template)]
#[template(path = "oauth_consent.html")]
pub struct ConsentPage {
    pub layout: Layout,
    pub client_name: String,
    /// Where the browser goes afterwards (shown so the user sees which app is asking).
    pub redirect_uri: String,
    /// (scope, what it allows)
    pub scopes: Vec<(String, String)>,
    /// Hidden fields repeating the request.
    pub hidden: Vec<(String, String)>,
}

/// One client for these two calls (the shared API client keeps its internals private).
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// todo-api's answer: `(status, JSON body)`, or `None` when it cannot be reached.
async fn call(req: reqwest::RequestBuilder) -> Option<(u16, serde_json::Value)> {
    let r = req.send().await.ok()?;
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    Some((status, body))
}

fn refused(session: &Session, status: u16, body: &serde_json::Value) -> Response {
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("the app's request was refused");
    pages::error(
        session,
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        "This app's sign-in request is not valid",
        &format!("{message}. Go back to the app and try connecting again."),
        None,
    )
}

/// The CSP `form-action` source of a redirect URI: browsers apply `form-action` to the
/// redirect after the form post, so the page must allow the client's redirect target.
fn form_action_source(redirect_uri: &str) -> Option<String> {
    let url = reqwest::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        s => Some(format!("{s}:")),
    }
}

pub async fn page(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let here = format!("{}?{query}", todo_oauth::CONSENT_PATH);
    let url = format!(
        "{}/oauth/consent?{query}",
        app.api.base().trim_end_matches('/')
    );
    let Some((status, body)) = call(HTTP.get(url).bearer_auth(&token)).await else {
        return pages::unavailable(&session, Some(here));
    };
    if status == 401 {
        return to_signin(&session, &here);
    }
    if status != 200 {
        return refused(&session, status, &body);
    }
    if let Some(to) = body["redirect_to"].as_str() {
        return see_other(to);
    }
    let params: Params = serde_urlencoded::from_str(&query).unwrap_or_default();
    let hidden = serde_urlencoded::to_string(&params)
        .ok()
        .map(|s| serde_urlencoded::from_str::<Vec<(String, String)>>(&s).unwrap_or_default())
        .unwrap_or_default();
    let scopes = body["scopes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["scope"].as_str().unwrap_or("").to_owned(),
                        s["description"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let redirect_uri = body["redirect_uri"].as_str().unwrap_or("").to_owned();
    let page = ConsentPage {
        layout: Layout::new("Connect an app", &session),
        client_name: body["client_name"].as_str().unwrap_or("An app").to_owned(),
        scopes,
        hidden,
        redirect_uri: redirect_uri.clone(),
    };
    let mut r = html(StatusCode::OK, &page);
    let form_action = form_action_source(&redirect_uri).unwrap_or_default();
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self' {form_action}; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'"
    )) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub async fn decide(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(input): Form<DecisionInput>,
) -> Response {
    let mut decision = serde_json::to_value(&input.params).unwrap_or_default();
    decision["approve"] = serde_json::Value::Bool(input.decision == "approve");
    let url = format!("{}/oauth/consent", app.api.base().trim_end_matches('/'));
    let Some((status, body)) = call(HTTP.post(url).bearer_auth(&token).json(&decision)).await
    else {
        return pages::unavailable(&session, None);
    };
    if status == 401 {
        return to_signin(&session, todo_oauth::CONSENT_PATH);
    }
    match body["redirect_to"].as_str() {
        Some(to) if status == 200 => see_other(to),
        _ => refused(&session, status, &body),
    }
}
