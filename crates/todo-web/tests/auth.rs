//! Sign up, sign in, sign out through the forms, against the real API; the session and CSRF
//! cookies' attributes; errors next to their fields.
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
    assert!(session.contains("Max-Age=86400"), "{session}");
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
    assert!(page.set_cookie("todo_csrf").unwrap().contains("; Secure"));
    let page = b.sign_up("sec@example.com").await;
    assert_eq!(page.status, 200);

    let mut stops = Vec::new();
    let web = start_web(&stack.api, true, &mut stops).await;
    let mut b = Browser::new(&web);
    let r = b.get("/signin").await;
    assert!(
        r.set_cookie("todo_csrf").unwrap().contains("; Secure"),
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
