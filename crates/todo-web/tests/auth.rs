//! Sign up, sign in, sign out through the forms, against the real API; the session, refresh
//! and CSRF cookies' attributes; sign-out revoking the token at the API; the session renewed
//! with the refresh token once the access token has expired; errors next to their fields.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn sign_up_sign_out_and_sign_in_again() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();

    let r = b.get("/").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    let csrf_cookie = r
        .set_cookie("todo_csrf")
        .expect("a CSRF cookie on first visit");
    assert!(
        csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"),
        "{csrf_cookie}"
    );
    assert!(
        !csrf_cookie.contains("Secure"),
        "plain http, COOKIE_SECURE unset: {csrf_cookie}"
    );
    let r = b.get("/tasks").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));

    let page = b.get("/signin").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(
        page.body.contains("<label for=\"email\">Email</label>"),
        "labelled fields"
    );
    assert_eq!(b.csrf.len(), 64);
    // A second page view keeps the same secret (no new cookie).
    assert!(b.get("/signup").await.set_cookie("todo_csrf").is_none());

    // Errors from the API, next to their fields, with what was typed kept (not the password).
    let r = b
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.text_of("password-error").as_deref(),
        Some("Password must be at least 8 characters.")
    );
    assert!(r.body.contains("aria-describedby=\"password-error\""));
    assert!(r.body.contains("value=\"ann@example.com\""));
    assert!(
        !r.body.contains("short"),
        "the password is never echoed back"
    );
    let r = b
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "not-an-email"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text_of("email-error")
            .unwrap()
            .starts_with("Email must be an email address")
    );

    let r = b
        .post(
            "/signup",
            &[
                ("name", "Ann"),
                ("email", "ann@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/tasks"));
    let session = r.set_cookie("todo_session").expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    // As long as the refresh token: the access token's own `exp` says when to renew it.
    assert!(session.contains("Max-Age=1209600"), "{session}");
    let refresh = r.set_cookie("todo_refresh").expect("refresh cookie");
    assert!(
        refresh.contains("HttpOnly") && refresh.contains("Max-Age=1209600"),
        "{refresh}"
    );
    let tasks = b.follow(&r).await;
    assert_eq!(tasks.status, 200);
    assert!(
        tasks.body.contains("Welcome! Your account is ready."),
        "{}",
        tasks.body
    );
    assert!(tasks.body.contains("Ann"), "the user's name in the header");
    assert!(
        tasks
            .text_of("tasks-panel")
            .unwrap()
            .contains("No tasks yet.")
    );
    // The flash is shown once.
    let again = b.get("/tasks").await;
    assert!(!again.body.contains("Welcome!"));
    // Signed in: the sign-in page sends you on.
    assert_eq!(b.get("/signin").await.location(), "/tasks");

    // The same email again is refused at the email field.
    let mut other = stack.browser();
    other.get("/signup").await;
    let r = other
        .post(
            "/signup",
            &[
                ("name", "Bob"),
                ("email", "ann@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(r.text_of("email-error").is_some(), "{}", r.body);

    let r = b.post("/signout", &[]).await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    assert!(r.set_cookie("todo_session").unwrap().contains("Max-Age=0"));
    let page = b.follow(&r).await;
    assert!(page.body.contains("You are signed out."));
    assert_eq!(b.get("/tasks").await.location(), "/signin");

    let r = b
        .post(
            "/signin",
            &[("email", "ann@example.com"), ("password", "wrong password")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Invalid email or password."), "{}", r.body);
    assert!(r.body.contains("value=\"ann@example.com\""));

    // Back to where the user was going, never elsewhere.
    let r = b
        .post(
            "/signin",
            &[
                ("email", "ann@example.com"),
                ("password", "correct horse"),
                ("next", "/tasks?status=pending"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/tasks?status=pending"));
    b.post("/signout", &[]).await;
    let r = b
        .post(
            "/signin",
            &[
                ("email", "ann@example.com"),
                ("password", "correct horse"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location()), (303, "/tasks"));
}

#[tokio::test]
async fn cookies_are_secure_over_https_or_when_configured() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.extra_headers
        .push(("x-forwarded-proto".into(), "https".into()));
    let page = b.get("/signin").await;
    let csrf = page.set_cookie("__Host-todo_csrf").unwrap();
    assert!(
        csrf.contains("; Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"),
        "{csrf}"
    );
    assert!(
        page.set_cookie("todo_csrf").is_none(),
        "only the __Host- name over https"
    );
    let page = b.sign_up("sec@example.com").await;
    assert_eq!(page.status, 200);

    let mut stops = Vec::new();
    let web = start_web(&stack.api, true, &mut stops).await;
    let mut b = Browser::new(&web);
    let r = b.get("/signin").await;
    assert!(
        r.set_cookie("__Host-todo_csrf")
            .unwrap()
            .contains("; Secure"),
        "COOKIE_SECURE=true"
    );
    let r = b
        .post(
            "/signin",
            &[("email", "sec@example.com"), ("password", "correct horse")],
        )
        .await;
    assert!(r.set_cookie("todo_session").unwrap().contains("; Secure"));
}

/// The access token in the browser's jar, re-signed (with the stack's secret) as if it were
/// `age` seconds older: the same session, expired.
fn aged(token: &str, age: i64) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    for key in ["iat", "nbf", "exp"] {
        claims[key] = (claims[key].as_i64().unwrap() - age).into();
    }
    let head = b64.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let body = b64.encode(serde_json::to_vec(&claims).unwrap());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    let sig = b64.encode(mac.finalize().into_bytes());
    format!("{head}.{body}.{sig}")
}

async fn api_status(stack: &Stack, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/tasks", stack.api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn signing_out_revokes_the_token_at_the_api() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    let page = b.sign_up("revoke@example.com").await;
    assert_eq!(page.status, 200);
    let token = b.jar["todo_session"].clone();
    assert_eq!(api_status(&stack, &token).await, 200);
    let r = b.post("/signout", &[]).await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    for name in ["todo_session", "todo_refresh"] {
        assert!(
            r.set_cookie(name).unwrap().contains("Max-Age=0"),
            "{name} cleared"
        );
    }
    // Not only forgotten by the browser: refused by the API (and by todo-mcp, which makes
    // the same check: crates/todo-api/tests/tokens.rs).
    assert_eq!(api_status(&stack, &token).await, 401);
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_without_the_user_noticing() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    assert_eq!(b.sign_up("renew@example.com").await.status, 200);
    let page = b.get("/tasks").await;
    let form_csrf = page.csrf().unwrap();
    let first_refresh = b.jar["todo_refresh"].clone();

    // An hour later: the access token has expired (the API refuses it)...
    let expired = aged(&b.jar["todo_session"], 3600);
    assert_eq!(api_status(&stack, &expired).await, 401);
    b.jar.insert("todo_session".into(), expired.clone());
    // ...yet the page loads, and the response carries the renewed pair.
    let page = b.get("/tasks").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No tasks yet."), "{}", page.body);
    let session = page.set_cookie("todo_session").expect("a new access token");
    assert!(session.contains("HttpOnly"), "{session}");
    assert_ne!(b.jar["todo_session"], expired);
    assert_ne!(b.jar["todo_refresh"], first_refresh, "rotated");
    assert_eq!(api_status(&stack, &b.jar["todo_session"]).await, 200);
    // The form token from before the refresh still works (it is bound to the session, which
    // a refresh keeps), and a form post after expiry goes through as well.
    let expired_again = aged(&b.jar["todo_session"], 3600);
    b.jar.insert("todo_session".into(), expired_again);
    b.csrf = form_csrf;
    let r = b.post("/tasks", &[("title", "after expiry")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(page.body.contains("after expiry"), "{}", page.body);

    // The refresh token that was rotated away is refused, and presenting it signs the
    // session out (reuse detection): the browser is sent to sign in. (Its access cookie
    // differs from the one the first refresh came with: the very same pair of cookies within
    // seconds is a concurrent request of the same browser and shares that refresh's answer.)
    let mut thief = stack.browser();
    thief
        .jar
        .insert("todo_session".into(), aged(&b.jar["todo_session"], 7200));
    thief.jar.insert("todo_refresh".into(), first_refresh);
    let r = thief.get("/tasks").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    assert!(r.set_cookie("todo_refresh").unwrap().contains("Max-Age=0"));
    let r = b.get("/tasks").await;
    assert_eq!(
        r.status, 303,
        "the family is revoked: the real browser signs in again"
    );
}

#[tokio::test]
async fn a_plain_csrf_cookie_is_not_honoured_over_https() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    b.extra_headers
        .push(("x-forwarded-proto".into(), "https".into()));
    b.get("/signin").await;
    let secret = b.jar.remove("__Host-todo_csrf").expect("__Host- cookie");
    // The same secret under the plain name, as a sibling subdomain or an http page could
    // plant it: over https it is ignored, so the form's token no longer matches.
    b.jar.insert("todo_csrf".into(), secret);
    let r = b
        .post(
            "/signin",
            &[("email", "x@example.com"), ("password", "whatever1")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Reloading the form (as the error page says) gets a secret under the right name.
    let page = b.get("/signin").await;
    assert!(
        page.set_cookie("__Host-todo_csrf").is_some(),
        "a fresh secret"
    );
}

#[tokio::test]
async fn two_requests_at_once_after_expiry_share_one_refresh() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    assert_eq!(b.sign_up("twice@example.com").await.status, 200);
    let expired = aged(&b.jar["todo_session"], 3600);
    b.jar.insert("todo_session".into(), expired);
    // Two tabs (or two script fetches) with the same expired cookies, at the same moment.
    let mut one = Browser::new(&b.base);
    one.jar = b.jar.clone();
    let mut two = Browser::new(&b.base);
    two.jar = b.jar.clone();
    let (p1, p2) = tokio::join!(one.get("/tasks"), two.get("/tasks"));
    assert_eq!(
        (p1.status, p2.status),
        (200, 200),
        "{} {}",
        p1.body,
        p2.body
    );
    // One refresh, one answer for both: the same new pair, and the session still stands
    // (presenting the used refresh token twice would have signed it out).
    assert_eq!(one.jar["todo_refresh"], two.jar["todo_refresh"]);
    assert_eq!(api_status(&stack, &one.jar["todo_session"]).await, 200);
    let later = aged(&one.jar["todo_session"], 3600);
    one.jar.insert("todo_session".into(), later);
    assert_eq!(
        one.get("/tasks").await.status,
        200,
        "the new refresh token works"
    );
}
