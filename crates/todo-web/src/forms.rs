//! The forms the pages post, as typed structs read with `axum::Form`.
//!
//! Every field is optional on the wire (`#[serde(default)]`): a missing field is an empty
//! one, and the API's answer puts its message next to the field. Fields holding a shared
//! wire enum are [`Choice`]s, which never fail to deserialize: an unknown value is kept as
//! typed, so a bad value comes back as the page with the field's error instead of a bare
//! 4xx from the extractor. Only a body that is not a form at all is refused here
//! ([`Form`]'s rejection: a 400 page saying so).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer};

/// A form field holding one of the values of a wire enum `T` (deserialized by `T`'s own
/// serde names, the ones the API uses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Choice<T> {
    /// Absent or empty.
    #[default]
    Missing,
    Valid(T),
    /// Not one of `T`'s values: kept as typed, so the page can say so.
    Invalid(String),
}

impl<T> Choice<T> {
    pub fn valid(&self) -> Option<&T> {
        match self {
            Choice::Valid(v) => Some(v),
            _ => None,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Choice::Missing);
        }
        let parsed: Result<T, serde::de::value::Error> = T::deserialize(raw.into_deserializer());
        Ok(match parsed {
            Ok(v) => Choice::Valid(v),
            Err(_) => Choice::Invalid(raw.to_owned()),
        })
    }
}

/// `axum::Form` whose rejection (a body that is not an urlencoded form) is this site's
/// error page rather than axum's plain text.
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let session = req.extensions().get::<crate::session::Session>().cloned();
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Form(v)),
            Err(rejection) => {
                tracing::info!(error = %rejection.body_text(), "unreadable form body refused");
                let message = format!(
                    "This site could not read the form that was sent ({}). Go back, reload the page and try again.",
                    rejection.body_text()
                );
                Err(match session {
                    Some(s) => crate::pages::error(
                        &s,
                        StatusCode::BAD_REQUEST,
                        "That form could not be read",
                        &message,
                        None,
                    ),
                    None => (StatusCode::BAD_REQUEST, message).into_response(),
                })
            }
        }
    }
}

/// The add and edit task forms.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskInput {
    pub title: String,
    pub description: String,
    pub priority: Choice<todo_wire::Priority>,
    pub due_date: String,
    pub due_time: String,
    pub tags: String,
    /// The list's query string to return to.
    pub back: String,
}

/// Forms that only say where to go back to (complete, reopen, delete).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BackInput {
    pub back: String,
}

/// `POST /chat`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChatInput {
    pub message: String,
    pub conversation_id: String,
    pub client_message_id: String,
    pub back: String,
}

/// `POST /signin`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
    pub next: String,
}

/// `POST /signup`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignUpInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub next: String,
    /// The browser's IANA zone, written by the page's script.
    pub browser_time_zone: String,
    /// The select shown instead when scripts are off.
    pub time_zone: String,
}

impl SignUpInput {
    /// The zone to register with: the browser's, else the one chosen; none means UTC.
    pub fn zone(&self) -> Option<String> {
        [&self.browser_time_zone, &self.time_zone]
            .into_iter()
            .map(|z| z.trim())
            .find(|z| !z.is_empty())
            .map(str::to_owned)
    }
}

/// `POST /settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsInput {
    pub time_zone: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use todo_wire::Priority;

    #[test]
    fn bad_enum_values_are_kept_not_refused() {
        let f: TaskInput =
            serde_urlencoded::from_str("title=Buy+milk&priority=high&tags=a%2Cb&csrf=x").unwrap();
        assert_eq!(f.title, "Buy milk");
        assert_eq!(f.priority, Choice::Valid(Priority::High));
        assert_eq!(f.tags, "a,b");
        assert_eq!(f.description, "");
        let f: TaskInput = serde_urlencoded::from_str("priority=urgent").unwrap();
        assert_eq!(f.priority, Choice::Invalid("urgent".into()));
        let f: TaskInput = serde_urlencoded::from_str("priority=").unwrap();
        assert_eq!(f.priority, Choice::Missing);
        let f: TaskInput = serde_urlencoded::from_str("").unwrap();
        assert_eq!(f.title, "");
    }
}
