//! What happens when things go wrong: the API is down, a form without a valid CSRF token, an
//! expired or forged session, unknown pages. Plus health, readiness and asset caching.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn health_assets_and_headers() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{}{path}", stack.web)).send();
    assert_eq!(get("/livez").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let health: serde_json::Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health["service"], "todo-web");
    assert_eq!(health["checks"]["api"], "ok");

    let mut b = stack.browser();
    let page = b.get("/signin").await;
    assert!(
        page.header("content-security-policy")
            .contains("script-src 'self'")
    );
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(!page.header("x-request-id").is_empty());
    let css = page
        .body
        .split("href=\"/static/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let js = page
        .body
        .split("src=\"/static/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        css.starts_with("app.") && css.ends_with(".css") && css.len() == "app.0123456789.css".len(),
        "{css}"
    );
    for (file, kind) in [(css, "text/css"), (js, "text/javascript")] {
        let r = get(&format!("/static/{file}")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(r.text().await.unwrap().len() > 1000);
    }
    // Only the current hashes exist.
    assert_eq!(
        get("/static/app.0000000000.css").await.unwrap().status(),
        404
    );
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no CDN, nothing off-site"
    );

    let r = b.get("/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Page not found"));
    let r = b.post("/tasks/1/edit", &[]).await;
    assert_eq!(r.status, 404, "no POST route there");
}

#[tokio::test]
async fn api_down_pages_say_so_instead_of_failing() {
    let lonely = web_without_api().await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/livez", lonely.web))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = client
        .get(format!("{}/readyz", lonely.web))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "ready without the API: its pages explain the outage"
    );
    let health: serde_json::Value = client
        .get(format!("{}/health", lonely.web))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["checks"]["api"], "failed");

    // The sign-in page needs no API; signing in says the service is unreachable.
    let mut b = Browser::new(&lonely.web);
    assert_eq!(b.get("/signin").await.status, 200);
    let r = b
        .post(
            "/signin",
            &[("email", "a@example.com"), ("password", "whatever1")],
        )
        .await;
    assert_eq!(r.status, 503);
    assert!(
        r.body
            .contains("The task service is not reachable right now"),
        "{}",
        r.body
    );
    assert!(r.text().contains("We can't reach the service right now."));
    assert!(r.body.contains("value=\"a@example.com\""));
    b.get("/signup").await;
    let r = b
        .post(
            "/signup",
            &[
                ("name", "A"),
                ("email", "a@example.com"),
                ("password", "whatever1"),
            ],
        )
        .await;
    assert_eq!(r.status, 503);

    // Signed in (a token the API would check) but the API is gone: a friendly 503.
    b.jar
        .insert("todo_session".into(), fake_token(now() + 3600));
    let page = b.get("/tasks?status=pending").await;
    assert_eq!(page.status, 503);
    assert_eq!(page.header("retry-after"), "5");
    assert!(page.text().contains("We can't reach your tasks right now"));
    assert!(
        page.body.contains("href=\"/tasks?status=pending\""),
        "a retry link to the same view"
    );
    b.csrf = page.csrf().unwrap();
    for (path, fields) in [
        ("/tasks", vec![("title", "x"), ("back", "")]),
        ("/chat", vec![("message", "hi"), ("back", "")]),
        ("/tasks/1/complete", vec![("back", "")]),
    ] {
        let r = b.post(path, &fields).await;
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert!(
            r.body.contains("not reachable") || r.body.contains("unavailable"),
            "{path}"
        );
    }
    assert_eq!(b.get("/tasks/1/edit").await.status, 503);
}

#[tokio::test]
async fn form_posts_need_a_valid_csrf_token() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.sign_up("csrf@example.com").await;
    let good = b.csrf.clone();

    let r = b
        .post_raw("/tasks", &[("title", "no token"), ("back", "")])
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("This form has expired"));
    let r = b
        .post_raw(
            "/tasks",
            &[
                ("title", "bad token"),
                ("back", ""),
                ("csrf", &"0".repeat(64)),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // Another browser's valid token does not work here.
    let mut other = stack.browser();
    other.sign_up("csrf2@example.com").await;
    let r = b
        .post_raw(
            "/tasks",
            &[("title", "foreign"), ("back", ""), ("csrf", &other.csrf)],
        )
        .await;
    assert_eq!(r.status, 403);
    // Nor does a token from before sign-in (tokens are bound to the session).
    let mut fresh = stack.browser();
    fresh.get("/signin").await;
    let anonymous = fresh.csrf.clone();
    let r = fresh
        .post(
            "/signin",
            &[("email", "csrf@example.com"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = fresh
        .post_raw(
            "/tasks",
            &[("title", "stale"), ("back", ""), ("csrf", &anonymous)],
        )
        .await;
    assert_eq!(r.status, 403);
    // A cross-site page cannot post even with a token.
    b.extra_headers
        .push(("origin".into(), "https://evil.example".into()));
    let r = b
        .post_raw(
            "/tasks",
            &[("title", "cross"), ("back", ""), ("csrf", &good)],
        )
        .await;
    assert_eq!(r.status, 403);
    b.extra_headers.clear();
    // Without the CSRF cookie nothing is accepted, not even sign-in.
    let mut cookieless = stack.browser();
    let r = cookieless
        .post_raw(
            "/signin",
            &[
                ("email", "csrf@example.com"),
                ("password", "correct horse"),
                ("csrf", &good),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("todo_session").is_none());
    // The header form works for scripts; the same-origin Origin passes.
    let host = b.base.trim_start_matches("http://").to_owned();
    b.extra_headers
        .push(("origin".into(), format!("http://{host}")));
    b.extra_headers.push(("x-csrf-token".into(), good.clone()));
    let r = b
        .post_raw("/tasks", &[("title", "with header"), ("back", "")])
        .await;
    assert_eq!(r.status, 303);
    b.extra_headers.clear();
    // None of the refused posts got through.
    let page = b.get("/tasks").await;
    assert_eq!(page.task_rows().len(), 1, "{}", page.body);
    assert!(page.body.contains("with header"));
}

#[tokio::test]
async fn ended_or_forged_sessions_lead_back_to_sign_in() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.get("/signin").await;
    b.jar.insert("todo_session".into(), fake_token(now() - 10));
    let r = b.get("/tasks?status=pending").await;
    assert_eq!(
        (r.status, r.location()),
        (303, "/signin?next=%2Ftasks%3Fstatus%3Dpending")
    );
    assert!(r.set_cookie("todo_session").unwrap().contains("Max-Age=0"));
    let page = b.follow(&r).await;
    assert!(
        page.body
            .contains("Your session has ended. Please sign in again.")
    );
    assert!(
        page.body.contains("value=\"/tasks?status=pending\""),
        "back there after signing in"
    );

    // Well-formed and unexpired but not signed by the API: the API says 401.
    b.jar
        .insert("todo_session".into(), fake_token(now() + 3600));
    let r = b.get("/tasks").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
    assert!(r.set_cookie("todo_session").unwrap().contains("Max-Age=0"));
    assert!(b.follow(&r).await.body.contains("Your session has ended."));
    assert!(!b.jar.contains_key("todo_session"));

    // Garbage in the cookie is treated as no session.
    b.jar.insert("todo_session".into(), "garbage".into());
    assert_eq!(b.get("/tasks").await.status, 303);
}
