//! Request input that fails says which field is wrong.
//!
//! axum's stock `Json` rejection is plain text; this extractor answers with the API's error
//! shape instead: 415 without a JSON content type, 413 past the body limit, 400 for broken
//! JSON, 422 naming the field for wrong types, missing or unknown fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use service_kit::ApiError;

pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    "request body is too large (limit 64 KiB)",
                )
            } else {
                ApiError::bad_request("BAD_BODY", "could not read the request body")
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a JSON object body, mapping serde's errors to the API's.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would happily read a struct from an array by position; bodies are objects.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some()
        && first != Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let field = unknown_or_missing_field(&message).unwrap_or(if path == "." {
                    "body".to_owned()
                } else {
                    path
                });
                ApiError::validation(field, strip_position(&message))
            }
            _ => malformed(&inner),
        }
    })?;
    // One JSON value and nothing after it (`{"title":"x"} trailing` is not a body).
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(
        "MALFORMED_JSON",
        format!(
            "request body is not valid JSON: {}",
            strip_position(&e.to_string())
        ),
    )
}

/// serde reports unknown, missing and duplicate fields at the parent path; name the field
/// itself instead.
fn unknown_or_missing_field(message: &str) -> Option<String> {
    if !["unknown field", "missing field", "duplicate field"]
        .iter()
        .any(|p| message.starts_with(p))
    {
        return None;
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// For optional fields where an explicit `null` means "clear": missing -> `None`,
/// `null` -> `Some(None)`, a value -> `Some(Some(v))`. Use with `#[serde(default)]`.
pub fn nullable<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        title: String,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default, deserialize_with = "nullable")]
        due: Option<Option<String>>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Input>(br#"{"title": 5}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.field.as_deref()),
            (422, Some("title"))
        );
        let e = parse::<Input>(br#"{"title": "x", "tags": [1]}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("tags[0]"));
        let e = parse::<Input>(br#"{"title": "x", "titel": "y"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("titel"));
        let e = parse::<Input>(br#"{}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("title"));
        let e = parse::<Input>(br#"{"title": "#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "MALFORMED_JSON"));
        let e = parse::<Input>(br#"{"title": "x"} trailing"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "MALFORMED_JSON"));
        let e = parse::<Input>(br#"{"title": "x"}{}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "MALFORMED_JSON"));
        assert!(parse::<Input>(b"{\"title\": \"x\"}  \n").is_ok());
        let e = parse::<Input>(br#"{"title": "a", "title": "b"}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.field.as_deref()),
            (422, Some("title"))
        );
        let e = parse::<Input>(b"[]").unwrap_err();
        assert_eq!((e.status.as_u16(), e.field.as_deref()), (422, Some("body")));
    }

    #[test]
    fn null_is_distinct_from_missing() {
        assert_eq!(parse::<Input>(br#"{"title":"x"}"#).unwrap().due, None);
        assert_eq!(
            parse::<Input>(br#"{"title":"x","due":null}"#).unwrap().due,
            Some(None)
        );
        assert_eq!(
            parse::<Input>(br#"{"title":"x","due":"d"}"#).unwrap().due,
            Some(Some("d".into()))
        );
    }
}
