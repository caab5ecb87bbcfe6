//! `GET /apps` and `POST /apps/disconnect`: the apps (MCP hosts, OAuth clients) the user has
//! connected, and disconnecting one. The list and the revocation are todo-api's
//! (`GET /api/oauth/grants`, `DELETE /api/oauth/grants/{id}`; the shapes are
//! [`todo_oauth::apps`]); disconnecting revokes every grant the app holds from this user, so
//! its access tokens get 401 at todo-mcp and its refresh tokens stop working. The form is a
//! plain CSRF-protected POST (the session layer checks the token) answered with a redirect
//! back to the list.

use super::{AppState, SignedIn, to_signin};
use crate::forms::Form;
use crate::pages::{self, html};
use crate::session::{Session, see_other};
use crate::views::Layout;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::sync::LazyLock;
use std::time::Duration;
use todo_oauth::Scope;
use todo_oauth::apps::ConnectedApps;

/// One app as the page shows it.
pub struct AppView {
    pub client_id: String,
    pub name: String,
    /// What it may do, in words.
    pub scopes: String,
    pub granted: String,
    pub granted_iso: String,
    pub last_used: String,
    pub last_used_iso: String,
}

#[derive(Template)]
#[template(path = "apps.html")]
pub struct AppsPage {
    pub layout: Layout,
    pub apps: Vec<AppView>,
    pub notice: Option<&'static str>,
}

/// `?done=` after a disconnect (fixed words only: nothing from the query is echoed).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    pub done: String,
}

/// The disconnect form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DisconnectInput {
    pub client_id: String,
}

/// One client for these calls (the shared API client keeps its internals private).
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// A timestamp as people read it, in UTC (the page says so), and as `<time datetime>`.
fn when(t: time::OffsetDateTime) -> (String, String) {
    let utc = t.to_offset(time::UtcOffset::UTC);
    let shown = format!(
        "{} {} {}, {:02}:{:02} UTC",
        utc.day(),
        month_name(utc.month()),
        utc.year(),
        utc.hour(),
        utc.minute()
    );
    (shown, todo_wire::timestamp::format(&utc))
}

fn month_name(m: time::Month) -> &'static str {
    use time::Month::*;
    match m {
        January => "Jan",
        February => "Feb",
        March => "Mar",
        April => "Apr",
        May => "May",
        June => "Jun",
        July => "Jul",
        August => "Aug",
        September => "Sep",
        October => "Oct",
        November => "Nov",
        December => "Dec",
    }
}

fn view(apps: ConnectedApps) -> Vec<AppView> {
    apps.apps
        .into_iter()
        .map(|a| {
            let scopes: Vec<&str> = a
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s))
                .map(Scope::description)
                .collect();
            let (granted, granted_iso) = when(a.granted_at);
            let (last_used, last_used_iso) = when(a.last_used_at);
            AppView {
                client_id: a.client_id,
                name: a.client_name,
                scopes: if scopes.is_empty() {
                    "Nothing".to_owned()
                } else {
                    scopes.join("; ")
                },
                granted,
                granted_iso,
                last_used,
                last_used_iso,
            }
        })
        .collect()
}

fn api_url(app: &AppState, path: &str) -> String {
    format!("{}{path}", app.api.base().trim_end_matches('/'))
}

fn refused(session: &Session, status: u16, body: &serde_json::Value) -> Response {
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("the service refused the request");
    pages::error(
        session,
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        "That did not work",
        &format!("{message}. Reload the page and try again."),
        Some("/apps".to_owned()),
    )
}

pub async fn page(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Query(done): Query<Done>,
) -> Response {
    let Ok(r) = HTTP
        .get(api_url(&app, "/api/oauth/grants"))
        .bearer_auth(&token)
        .send()
        .await
    else {
        return pages::unavailable(&session, Some("/apps".to_owned()));
    };
    let status = r.status().as_u16();
    if status == 401 {
        return to_signin(&session, "/apps");
    }
    if status == 503 {
        return pages::unavailable(&session, Some("/apps".to_owned()));
    }
    if status != 200 {
        let body = r.json().await.unwrap_or(serde_json::Value::Null);
        return refused(&session, status, &body);
    }
    let apps = match r.json::<ConnectedApps>().await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "todo-api answered connected apps in an unknown shape");
            return refused(&session, 502, &serde_json::Value::Null);
        }
    };
    let notice = match done.done.as_str() {
        "disconnected" => Some("The app was disconnected. It can no longer use your tasks."),
        "gone" => Some("That app was not connected (any more)."),
        _ => None,
    };
    let page = AppsPage {
        layout: Layout::new("Connected apps", &session),
        apps: view(apps),
        notice,
    };
    html(StatusCode::OK, &page)
}

pub async fn disconnect(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(input): Form<DisconnectInput>,
) -> Response {
    let client_id = input.client_id.trim();
    if client_id.is_empty() {
        return pages::error(
            &session,
            StatusCode::BAD_REQUEST,
            "Which app?",
            "The form did not say which app to disconnect. Reload the page and try again.",
            Some("/apps".to_owned()),
        );
    }
    // The id is one path segment, percent-encoded (a metadata-document client's id is a URL).
    let Ok(mut url) = reqwest::Url::parse(&api_url(&app, "/api/oauth/grants")) else {
        return pages::unavailable(&session, Some("/apps".to_owned()));
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(client_id);
    }
    let Ok(r) = HTTP.delete(url).bearer_auth(&token).send().await else {
        return pages::unavailable(&session, Some("/apps".to_owned()));
    };
    match r.status().as_u16() {
        204 => see_other("/apps?done=disconnected"),
        404 => see_other("/apps?done=gone"),
        401 => to_signin(&session, "/apps"),
        503 => pages::unavailable(&session, Some("/apps".to_owned())),
        status => {
            let body = r.json().await.unwrap_or(serde_json::Value::Null);
            refused(&session, status, &body)
        }
    }
}
