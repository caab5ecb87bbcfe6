//! `GET/POST /settings`: the account's settings, today its time zone. The API owns the
//! value (`PATCH /api/auth/me`) and applies it to every date it computes; the pages show
//! dates in it.

use super::{AppState, SignedIn, failed};
use crate::api::{ApiFailure, UpdateMe};
use crate::forms::{Form, SettingsInput};
use crate::pages::html;
use crate::session::{Flash, Session, see_other};
use crate::views::{API_DOWN, FieldErrors, Layout, SettingsPage};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

pub async fn page(State(app): State<AppState>, SignedIn { session, token }: SignedIn) -> Response {
    match app.api.me(&token).await {
        Ok(me) => show(
            &session,
            me.user.time_zone,
            FieldErrors::default(),
            StatusCode::OK,
        ),
        Err(e) => failed(&session, e, "/settings"),
    }
}

pub async fn save(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<SettingsInput>,
) -> Response {
    let time_zone = form.time_zone.trim().to_owned();
    let body = UpdateMe {
        time_zone: Some(time_zone.clone()),
        ..UpdateMe::default()
    };
    match app.api.update_me(&token, &body).await {
        Ok(_) => {
            let mut r = see_other("/settings");
            r.headers_mut().append(
                header::SET_COOKIE,
                session.flash_cookie(Flash::SettingsSaved),
            );
            r
        }
        Err(ApiFailure::Rejected(r)) if r.status == 422 || r.status == 400 => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            show(&session, time_zone, FieldErrors::from_rejection(&r), status)
        }
        Err(ApiFailure::Unavailable(why)) => {
            tracing::warn!(error = %why, "saving settings: todo-api unavailable");
            let errors = FieldErrors::general(
                "The service is unavailable right now, so your settings were not saved. Try again in a moment.",
            );
            let mut page = settings(&session, time_zone, errors);
            page.layout = page.layout.with_banner(API_DOWN);
            html(StatusCode::SERVICE_UNAVAILABLE, &page)
        }
        Err(e) => failed(&session, e, "/settings"),
    }
}

fn settings(session: &Session, time_zone: String, errors: FieldErrors) -> SettingsPage {
    let mut layout = Layout::new("Settings", session);
    if errors.any() {
        layout.flash = None;
    }
    SettingsPage {
        layout,
        time_zone,
        zones: todo_wire::zone::names(),
        errors,
    }
}

fn show(session: &Session, time_zone: String, errors: FieldErrors, status: StatusCode) -> Response {
    html(status, &settings(session, time_zone, errors))
}
