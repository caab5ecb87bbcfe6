//! The browser session: cookies, CSRF protection and one-shot flash notices.
//!
//! - `todo_session`: the API's access token (HttpOnly, SameSite=Lax, Secure over https). The
//!   browser never sees it from script; todo-web forwards it to the API as a Bearer token.
//!   It lives as long as the refresh token, so its claims (name, session id) stay readable
//!   after the token itself has expired.
//! - `todo_refresh`: the API's refresh token (HttpOnly). When the access token has expired, or
//!   the API answers 401, the first API call of the request trades it for a new pair (see
//!   [`crate::api`]) and this layer sets both cookies on the response: a signed-in browser
//!   keeps working past the access token's expiry. A refused refresh clears it.
//! - `todo_csrf` (`__Host-todo_csrf` when cookies are Secure, so that no subdomain or
//!   plain-http page can plant it): a random per-browser secret (HttpOnly). Every form carries
//!   a token that is HMAC-SHA256(secret, session key), the session key being the API session
//!   id in the token (stable across refreshes, so open forms survive one) or, for a token
//!   without one, the token: a cross-site page can neither read the secret nor derive the
//!   token, and a planted cookie does not help without the session either.
//!   Every state-changing request must carry it (form field `csrf` or header `x-csrf-token`),
//!   and a cross-origin `Origin` header is refused outright.
//! - `todo_flash`: a notice code for the page after a redirect (Post/Redirect/Get), read once.
//! - `todo_conv`: the conversation the chat panel shows when the URL does not say.
//! - `todo_undo`: what the notice's Undo button undoes (the last delete or complete).
//!
//! This layer depends on nothing else in the crate (only [`refresh`], below it): it refuses a
//! request through one error type, [`Rejected`], which the app's page layer turns into the
//! styled page (see `crate::pages::render_rejection`).

pub mod refresh;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use service_kit::TrustedProxies;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};

pub const SESSION: &str = "todo_session";
pub const REFRESH: &str = "todo_refresh";
/// The CSRF cookie's name over plain http; see [`csrf_cookie_name`].
pub const CSRF: &str = "todo_csrf";
/// The CSRF cookie's name when cookies are Secure: browsers accept a `__Host-` cookie only
/// with `Secure`, `Path=/` and no `Domain`, so it cannot be set by a sibling subdomain or
/// over http and then trusted here.
pub const CSRF_HOST: &str = "__Host-todo_csrf";
pub const FLASH: &str = "todo_flash";
pub const CONVERSATION: &str = "todo_conv";
/// What the Undo button next to a "Task deleted/completed" notice undoes (set by the
/// handler, opaque here); cleared with the notice.
pub const UNDO: &str = "todo_undo";
/// Form bodies above this are refused before parsing (the largest form, a task, is ~2 KiB).
pub const FORM_LIMIT: usize = 64 * 1024;

/// Who the user is, read from the token's claims for display only (the API verifies the
/// token on every call; todo-web never trusts these for access decisions).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub name: String,
    pub email: String,
    pub exp: i64,
    /// The API session the token belongs to (absent in tokens minted without one).
    #[serde(default)]
    pub sid: Option<String>,
}

/// Refresh this long before the access token's `exp`, so a call does not go out with a
/// token that expires on the way.
const REFRESH_MARGIN_SECS: i64 = 5;

/// The CSRF cookie's name for a response whose cookies are (or are not) Secure.
pub fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure { CSRF_HOST } else { CSRF }
}

/// What a request knows about its browser session. Put in the request extensions by
/// [`middleware`]; handlers take it with `Extension<Session>`.
#[derive(Debug, Clone)]
pub struct Session {
    /// The API's access token, when signed in: live, or expired with a refresh token to
    /// renew it (the first API call of the request does).
    pub token: Option<String>,
    pub claims: Option<Claims>,
    /// True when a session cookie was present but is expired or unreadable.
    pub expired: bool,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub conversation: Option<String>,
    /// The `todo_undo` cookie, as set by a handler.
    pub undo: Option<String>,
    /// Cookies should be Secure (COOKIE_SECURE or the request came over https).
    pub secure: bool,
    pub client_ip: Option<IpAddr>,
}

impl Session {
    /// A `Set-Cookie` value for one of this service's cookies.
    pub fn cookie(&self, name: &str, value: &str, max_age_secs: Option<u64>) -> HeaderValue {
        set_cookie(name, value, max_age_secs, self.secure)
    }

    pub fn clear(&self, name: &str) -> HeaderValue {
        set_cookie(name, "", Some(0), self.secure)
    }

    pub fn flash_cookie(&self, flash: Flash) -> HeaderValue {
        self.cookie(FLASH, flash.code(), Some(60))
    }
}

fn set_cookie(name: &str, value: &str, max_age_secs: Option<u64>, secure: bool) -> HeaderValue {
    let mut c = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age_secs {
        c = c.max_age(cookie_duration(age));
    }
    // Values are ours (JWT, hex, codes, UUIDs): always valid header text.
    HeaderValue::from_str(&c.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

fn cookie_duration(secs: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// One-shot notices after a redirect. Codes, not text, travel in the cookie, so a cookie
/// cannot inject content into the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    Welcome,
    SignedIn,
    SignedOut,
    Expired,
    Added,
    Updated,
    Completed,
    Reopened,
    Deleted,
    TaskGone,
    SettingsSaved,
    Restored,
    NothingToUndo,
}

impl Flash {
    pub fn code(self) -> &'static str {
        match self {
            Flash::Welcome => "welcome",
            Flash::SignedIn => "signed_in",
            Flash::SignedOut => "signed_out",
            Flash::Expired => "expired",
            Flash::Added => "added",
            Flash::Updated => "updated",
            Flash::Completed => "completed",
            Flash::Reopened => "reopened",
            Flash::Deleted => "deleted",
            Flash::TaskGone => "task_gone",
            Flash::SettingsSaved => "settings_saved",
            Flash::Restored => "restored",
            Flash::NothingToUndo => "nothing_to_undo",
        }
    }

    pub fn parse(code: &str) -> Option<Flash> {
        [
            Flash::Welcome,
            Flash::SignedIn,
            Flash::SignedOut,
            Flash::Expired,
            Flash::Added,
            Flash::Updated,
            Flash::Completed,
            Flash::Reopened,
            Flash::Deleted,
            Flash::TaskGone,
            Flash::SettingsSaved,
            Flash::Restored,
            Flash::NothingToUndo,
        ]
        .into_iter()
        .find(|f| f.code() == code)
    }

    pub fn message(self) -> &'static str {
        match self {
            Flash::Welcome => "Welcome! Your account is ready. Add your first task below.",
            Flash::SignedIn => "Signed in.",
            Flash::SignedOut => "You are signed out.",
            Flash::Expired => "Your session has ended. Please sign in again.",
            Flash::Added => "Task added.",
            Flash::Updated => "Task saved.",
            Flash::Completed => "Task completed.",
            Flash::Reopened => "Task reopened.",
            Flash::Deleted => "Task deleted.",
            Flash::TaskGone => "That task no longer exists.",
            Flash::SettingsSaved => "Settings saved.",
            Flash::Restored => "Task restored.",
            Flash::NothingToUndo => "There is nothing to undo any more.",
        }
    }

    /// Problems are shown differently from confirmations.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Flash::Expired | Flash::TaskGone | Flash::NothingToUndo
        )
    }
}

/// A non-empty cookie of the request.
fn cookie<'a>(jar: &'a CookieJar, name: &str) -> Option<&'a str> {
    jar.get(name).map(Cookie::value).filter(|v| !v.is_empty())
}

const CSRF_CONTEXT: &[u8] = b"todo-web csrf v1\0";

fn csrf_mac(secret: &str, session_key: Option<&str>) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length: `None` cannot happen in practice.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(CSRF_CONTEXT);
    mac.update(session_key.unwrap_or("").as_bytes());
    Some(mac)
}

/// The CSRF token for forms: HMAC-SHA256(key = the browser's CSRF secret, message = the
/// session key or nothing), hex.
pub fn csrf_token(secret: &str, session_key: Option<&str>) -> String {
    csrf_mac(secret, session_key)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `sent` is the token for this secret and session, compared in constant time
/// (hmac's `verify_slice`, built on `subtle`).
pub fn csrf_valid(secret: &str, session_key: Option<&str>, sent: &str) -> bool {
    match (hex::decode(sent), csrf_mac(secret, session_key)) {
        (Ok(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
        _ => false,
    }
}

fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Why the session layer refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The body was above [`FORM_LIMIT`].
    TooLarge,
    /// A state-changing request from another origin.
    CrossOrigin,
    /// A state-changing request without a valid CSRF token.
    BadToken,
}

impl Rejection {
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::CrossOrigin | Rejection::BadToken => StatusCode::FORBIDDEN,
        }
    }
}

/// A refused request, with the session it had (the page that says so shows the header of a
/// signed-in user). As a response: the status and a plain-text reason, with itself in the
/// response extensions for the page layer to render.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub rejection: Rejection,
    pub session: Session,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        let text = match self.rejection {
            Rejection::TooLarge => "the form was larger than this site accepts",
            Rejection::CrossOrigin | Rejection::BadToken => {
                "the form's security token was missing or did not match; reload the page and try again"
            }
        };
        let mut r = (
            self.rejection.status(),
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            text,
        )
            .into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// The claims of a JWT, unverified (display only). `None` when unreadable.
pub fn read_claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The request came over https: the ingress says so in `X-Forwarded-Proto`.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The browser's address: the peer, unless the peer is one of our proxies (`TRUSTED_PROXIES`,
/// the ingress controller), whose `X-Forwarded-For` then names it (the same resolver as
/// todo-api's). A client cannot choose its address by sending the header itself.
pub fn client_ip(
    proxies: &TrustedProxies,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    Some(proxies.client_ip(peer?.ip(), headers))
}

/// A cross-origin `Origin` header on a state-changing request: refused even with a token.
/// Absent (older browsers, non-browser clients) or `null` defers to the token check. The
/// host it must match is `Host`, or `X-Forwarded-Host` only when a trusted proxy sent it:
/// otherwise a forged `X-Forwarded-Host: evil.example` would make `Origin: evil.example` match.
fn origin_mismatch(
    proxies: &TrustedProxies,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if origin == "null" {
        return false;
    }
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin)
        .trim_end_matches('/');
    let host = match peer {
        Some(peer) => proxies.host(peer.ip(), headers),
        None => headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    }
    .and_then(|v| v.split(',').next())
    .map(str::trim);
    match host {
        Some(host) => !origin_host.eq_ignore_ascii_case(host),
        None => true,
    }
}

/// What the session layer takes from the configuration.
#[derive(Debug, Clone, Default)]
pub struct SessionSettings {
    /// Mark cookies `Secure` even without `X-Forwarded-Proto: https` (`COOKIE_SECURE`).
    pub cookie_secure: bool,
    /// Whose forwarding headers are believed (`TRUSTED_PROXIES`).
    pub proxies: TrustedProxies,
}

/// [`middleware_with`] trusting no proxy: the peer is the client and `Host` the host.
pub async fn middleware(State(cookie_secure): State<bool>, req: Request, next: Next) -> Response {
    let settings = SessionSettings {
        cookie_secure,
        proxies: TrustedProxies::none(),
    };
    middleware_with(State(settings), req, next).await
}

/// Reads the session from the cookies, checks CSRF on every state-changing request, and adds
/// the cookies the response needs (a new CSRF secret, clearing a flash that was shown).
pub async fn middleware_with(
    State(settings): State<SessionSettings>,
    req: Request,
    next: Next,
) -> Response {
    let SessionSettings {
        cookie_secure,
        proxies,
    } = settings;
    let (mut parts, body) = req.into_parts();
    let jar = CookieJar::from_headers(&parts.headers);
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let secure = cookie_secure || is_https(&parts.headers);
    let (secret, new_secret) = match cookie(&jar, csrf_cookie_name(secure))
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(s) => (s.to_owned(), false),
        None => (random_secret(), true),
    };
    let raw_token = cookie(&jar, SESSION).map(str::to_owned);
    let refresh_token = cookie(&jar, REFRESH).map(str::to_owned);
    let claims = raw_token.as_deref().and_then(read_claims);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let live = claims
        .as_ref()
        .is_some_and(|c| c.exp > now + REFRESH_MARGIN_SECS);
    // Expired but renewable: handlers go ahead with the old token; the first API call
    // refreshes it (see `crate::api`).
    let renewable = !live && raw_token.is_some() && refresh_token.is_some();
    let signed_in = live || renewable;
    let expired = raw_token.is_some() && !signed_in;
    let token = raw_token.filter(|_| signed_in);
    let session_key = claims
        .as_ref()
        .filter(|_| signed_in)
        .and_then(|c| c.sid.clone())
        .or_else(|| token.clone());
    let flash = cookie(&jar, FLASH).and_then(Flash::parse);
    let session = Session {
        csrf_token: csrf_token(&secret, session_key.as_deref()),
        claims: claims.filter(|_| signed_in),
        token,
        expired,
        flash,
        undo: cookie(&jar, UNDO).map(str::to_owned),
        conversation: cookie(&jar, CONVERSATION)
            .filter(|c| uuid::Uuid::parse_str(c).is_ok())
            .map(str::to_owned),
        secure,
        client_ip: client_ip(&proxies, peer, &parts.headers),
    };

    let body = if parts.method != Method::GET && parts.method != Method::HEAD {
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(b) => b,
            Err(_) => return reject(Rejection::TooLarge, session),
        };
        if origin_mismatch(&proxies, peer, &parts.headers) {
            tracing::warn!(path = %parts.uri.path(), "cross-origin form post refused");
            return reject(Rejection::CrossOrigin, session);
        }
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| form_field(&bytes, "csrf"));
        let valid =
            !new_secret && sent.is_some_and(|t| csrf_valid(&secret, session_key.as_deref(), &t));
        if !valid {
            tracing::warn!(path = %parts.uri.path(), "form post without a valid CSRF token refused");
            return reject(Rejection::BadToken, session);
        }
        Body::from(bytes)
    } else {
        body
    };

    let shown_flash = session.flash.is_some();
    let had_undo = session.undo.is_some();
    let had_refresh_cookie = refresh_token.is_some();
    parts.extensions.insert(session);
    let scope = refresh::RefreshScope::new(refresh_token.filter(|_| signed_in), !live);
    let mut response = scope
        .clone()
        .run(next.run(Request::from_parts(parts, body)))
        .await;
    let headers = response.headers_mut();
    // The handler's own session cookies (sign-in, sign-out) win over a refresh it caused.
    let sets = |name: &str| {
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.as_bytes().starts_with(format!("{name}=").as_bytes()))
    };
    let handler_set_session = sets(SESSION);
    let handler_set_refresh = sets(REFRESH);
    match scope.outcome().await {
        refresh::Refreshed::To(s) if !handler_set_session => {
            for value in session_cookies(&s, secure) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        refresh::Refreshed::Refused if !handler_set_refresh => {
            headers.append(header::SET_COOKIE, set_cookie(REFRESH, "", Some(0), secure));
        }
        _ => {}
    }
    if had_refresh_cookie && !signed_in && !handler_set_refresh {
        // A refresh cookie without a session cookie is of no use: drop it.
        headers.append(header::SET_COOKIE, set_cookie(REFRESH, "", Some(0), secure));
    }
    if new_secret {
        headers.append(
            header::SET_COOKIE,
            set_cookie(
                csrf_cookie_name(secure),
                &secret,
                Some(400 * 24 * 3600),
                secure,
            ),
        );
    }
    let sets_flash = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH.as_bytes()));
    // A GET that rendered the notice consumes it; a redirect carries its own.
    if shown_flash && !sets_flash && !response.status().is_redirection() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(FLASH, "", Some(0), secure));
    }
    // The Undo goes with its notice: once the next notice replaces it, or a page showed it
    // and the user moved on, it is gone.
    let sets_undo = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(format!("{UNDO}=").as_bytes()));
    if had_undo && !sets_undo && (sets_flash || !shown_flash) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(UNDO, "", Some(0), secure));
    }
    response
}

/// The cookies that hold an API session: the access token and the refresh token, both for
/// as long as the refresh token lasts (the access token's own `exp` says when to refresh).
pub fn session_cookies(s: &todo_wire::Session, secure: bool) -> [HeaderValue; 2] {
    [
        set_cookie(SESSION, &s.token, Some(s.refresh_expires_in), secure),
        set_cookie(
            REFRESH,
            &s.refresh_token,
            Some(s.refresh_expires_in),
            secure,
        ),
    ]
}

fn reject(rejection: Rejection, session: Session) -> Response {
    Rejected { rejection, session }.into_response()
}

/// One field of an urlencoded body.
pub fn form_field(body: &Bytes, name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A response that sends the browser on with 303 See Other (Post/Redirect/Get).
pub fn see_other(location: &str) -> Response {
    let mut r = axum::http::StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csrf_tokens_bind_secret_and_session() {
        let a = csrf_token("secret-a", Some("token-1"));
        assert_eq!(a.len(), 64);
        assert_eq!(a, csrf_token("secret-a", Some("token-1")));
        assert_ne!(a, csrf_token("secret-b", Some("token-1")));
        assert_ne!(a, csrf_token("secret-a", Some("token-2")));
        assert_ne!(a, csrf_token("secret-a", None));
        assert!(csrf_valid("secret-a", Some("token-1"), &a));
        assert!(!csrf_valid("secret-b", Some("token-1"), &a));
        assert!(!csrf_valid("secret-a", Some("token-1"), &a[..62]));
        assert!(!csrf_valid("secret-a", Some("token-1"), "not hex"));
        assert!(!csrf_valid("secret-a", Some("token-1"), ""));
    }

    #[test]
    fn cookies_parse_and_set_with_the_right_attributes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; todo_session=x.y.z ;b="),
        );
        let jar = CookieJar::from_headers(&h);
        assert_eq!(cookie(&jar, "todo_session"), Some("x.y.z"));
        assert_eq!(cookie(&jar, "b"), None);
        let c = set_cookie(SESSION, "t", Some(60), true);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("todo_session=t; "), "{c}");
        for part in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=60", "Secure"] {
            assert!(c.split("; ").any(|p| p == part), "{part} in {c}");
        }
        assert!(
            !set_cookie(SESSION, "t", None, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn https_and_origin_checks() {
        let none = TrustedProxies::none();
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        assert!(!is_https(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&h));
        h.insert(header::HOST, HeaderValue::from_static("todo.example.com"));
        assert!(
            !origin_mismatch(&none, Some(proxy), &h),
            "no Origin: decided by the token"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://todo.example.com"),
        );
        assert!(!origin_mismatch(&none, Some(proxy), &h));
        assert!(!origin_mismatch(&none, None, &h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(origin_mismatch(&none, Some(proxy), &h));
        // A client cannot make its own Origin match by naming it in X-Forwarded-Host...
        h.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        assert!(origin_mismatch(&none, Some(proxy), &h));
        // ...only a trusted proxy can, which writes the host the browser asked for.
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert!(!origin_mismatch(&trusted, Some(proxy), &h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://todo.example.com"),
        );
        assert!(origin_mismatch(&trusted, Some(proxy), &h));
    }

    #[test]
    fn claims_are_read_for_display() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","name":"Ann","email":"a@x.io","exp":99}"#);
        let c = read_claims(&format!("h.{payload}.sig")).unwrap();
        assert_eq!((c.name.as_str(), c.exp), ("Ann", 99));
        assert!(read_claims("garbage").is_none());
        assert_eq!(Flash::parse("added"), Some(Flash::Added));
        assert_eq!(Flash::parse("<script>"), None);
    }

    #[test]
    fn client_ip_trusts_forwarding_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        let private: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let other: SocketAddr = "192.168.1.1:5000".parse().unwrap();
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            client_ip(&trusted, Some(private), &h),
            "203.0.113.7".parse().ok()
        );
        assert_eq!(
            client_ip(&trusted, Some(other), &h),
            "192.168.1.1".parse().ok()
        );
        let none = TrustedProxies::none();
        assert_eq!(client_ip(&none, Some(private), &h), "10.1.2.3".parse().ok());
    }
}
