//! Sign up, sign in, sign out. The API issues the tokens; todo-web keeps the access and
//! refresh tokens in HttpOnly cookies and never shows them to scripts. Signing out signs the
//! API session out too, so the access token stops working everywhere, not only here.

use super::{AppState, safe_next};
use crate::api::{ApiFailure, LoginRequest, RegisterRequest, Session as ApiSession};
use crate::forms::{Form, SignInInput, SignUpInput};
use crate::pages::html;
use crate::session::{self, Flash, Session, see_other};
use crate::views::{API_DOWN, AuthPage, FieldErrors, Layout};
use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

pub async fn signin_page(
    Extension(session): Extension<Session>,
    RawQuery(raw): RawQuery,
) -> Response {
    let next = serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v)
        .unwrap_or_default();
    page(&session, false, next)
}

pub async fn signup_page(Extension(session): Extension<Session>) -> Response {
    page(&session, true, String::new())
}

fn page(session: &Session, signup: bool, next: String) -> Response {
    if session.token.is_some() {
        return see_other(&safe_next(&next));
    }
    let mut response = html(
        StatusCode::OK,
        &AuthPage {
            layout: Layout::new(if signup { "Create account" } else { "Sign in" }, session),
            signup,
            next,
            name: String::new(),
            email: String::new(),
            time_zone: String::new(),
            zones: todo_wire::zone::names(),
            errors: FieldErrors::default(),
        },
    );
    // A stale session cookie is dropped here, once the page has told the user why.
    if session.expired {
        response
            .headers_mut()
            .append(header::SET_COOKIE, session.clear(session::SESSION));
    }
    response
}

pub async fn signin(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Form(form): Form<SignInInput>,
) -> Response {
    let ip = session.client_ip.map(|ip| ip.to_string());
    let body = LoginRequest {
        email: form.email.trim().to_owned(),
        password: form.password,
    };
    let result = app.api.login(&body, ip.as_deref()).await;
    let shown = Shown {
        name: String::new(),
        email: form.email,
        next: form.next,
        time_zone: String::new(),
    };
    finish(&session, result, false, shown, Flash::SignedIn)
}

pub async fn signup(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    Form(form): Form<SignUpInput>,
) -> Response {
    let ip = session.client_ip.map(|ip| ip.to_string());
    let time_zone = form.zone();
    let body = RegisterRequest {
        email: form.email.trim().to_owned(),
        password: form.password,
        name: form.name.trim().to_owned(),
        time_zone,
    };
    let result = app.api.register_from(&body, ip.as_deref()).await;
    let shown = Shown {
        name: form.name,
        email: form.email,
        next: form.next,
        time_zone: form.time_zone,
    };
    finish(&session, result, true, shown, Flash::Welcome)
}

/// What a refused sign-in or sign-up form shows again (never the password).
struct Shown {
    name: String,
    email: String,
    next: String,
    time_zone: String,
}

/// On success: the session cookie and on to the tasks. Otherwise the form again, with the
/// API's message next to the field it concerns and what was typed (except the password).
fn finish(
    session: &Session,
    result: Result<ApiSession, ApiFailure>,
    signup: bool,
    shown: Shown,
    flash: Flash,
) -> Response {
    let next = shown.next;
    let (status, errors, banner) = match result {
        Ok(api_session) => {
            let mut r = see_other(&safe_next(&next));
            for cookie in session::session_cookies(&api_session, session.secure) {
                r.headers_mut().append(header::SET_COOKIE, cookie);
            }
            r.headers_mut()
                .append(header::SET_COOKIE, session.flash_cookie(flash));
            return r;
        }
        Err(ApiFailure::Unauthorized(message)) => (
            StatusCode::UNAUTHORIZED,
            FieldErrors::general(sentence_case(&message)),
            None,
        ),
        Err(ApiFailure::Rejected(r)) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            FieldErrors::from_rejection(&r),
            None,
        ),
        Err(ApiFailure::Unavailable(why)) => {
            tracing::warn!(error = %why, "sign-in/up: todo-api unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                FieldErrors::general(
                    "We can't reach the service right now. Please try again in a moment.",
                ),
                Some(API_DOWN),
            )
        }
    };
    let mut layout = Layout::new(if signup { "Create account" } else { "Sign in" }, session);
    layout.flash = None;
    if let Some(b) = banner {
        layout = layout.with_banner(b);
    }
    html(
        status,
        &AuthPage {
            layout,
            signup,
            next,
            name: shown.name,
            email: shown.email,
            time_zone: shown.time_zone,
            zones: todo_wire::zone::names(),
            errors,
        },
    )
}

fn sentence_case(message: &str) -> String {
    let mut m = message.trim().trim_end_matches('.').to_owned();
    if let Some(first) = m.get(0..1) {
        let upper = first.to_uppercase();
        m.replace_range(0..1, &upper);
    }
    format!("{m}.")
}

/// Revokes the API session (its access token is refused from now on, by todo-api and
/// todo-mcp), then clears the cookies. The cookies go even when the API cannot be reached,
/// so this browser is signed out whatever happens; the log says the token outlives it.
pub async fn signout(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    if let Some(token) = session.token.as_deref() {
        match app.api.logout(token).await {
            Ok(()) => {}
            // Already expired or revoked: nothing left to revoke.
            Err(ApiFailure::Unauthorized(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "sign-out: the API session could not be revoked; it ends when its tokens expire");
            }
        }
    }
    let mut r = see_other("/signin");
    let h = r.headers_mut();
    h.append(header::SET_COOKIE, session.clear(session::SESSION));
    h.append(header::SET_COOKIE, session.clear(session::REFRESH));
    h.append(header::SET_COOKIE, session.clear(session::CONVERSATION));
    h.append(header::SET_COOKIE, session.flash_cookie(Flash::SignedOut));
    r
}
