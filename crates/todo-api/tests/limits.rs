//! Who the client is and how often it may try: per-client budgets that a forged
//! `X-Forwarded-For` cannot dodge, a per-account backoff shared by replicas through
//! PostgreSQL, a register budget, bounded password hashing and the password strength rule.
//! Real servers on loopback, real PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use common::{config, error_of, read};
use reqwest::Client;
use serde_json::{Value, json};
use service_kit::TrustedProxies;
use std::time::{Duration, Instant};
use todo_api::config::{AuthLimits, Config, HashLimits};
use todo_api::state::AppState;
use todo_store::{LoginThrottle, PoolSettings, Store, ThrottlePolicy};

/// One todo-api instance built from `config` (every setting honoured), on its own port.
struct Instance {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Instance {
    async fn start(config: &Config) -> Instance {
        let store = Store::connect_lazy(
            &config.database_url,
            &PoolSettings {
                max_connections: 5,
                ..PoolSettings::default()
            },
        )
        .unwrap();
        store.migrate().await.unwrap();
        let health = todo_api::health(&store);
        let app = todo_api::app(AppState::new(config, store, None), &health);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(service_kit::serve(
            listener,
            app,
            health,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(2),
        ));
        Instance { base, _stop: stop }
    }

    async fn post(&self, path: &str, body: Value, forwarded_for: Option<&str>) -> Reply {
        let mut req = Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body);
        if let Some(xff) = forwarded_for {
            req = req.header("x-forwarded-for", xff);
        }
        let response = req.send().await.unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let (status, body) = read(response).await;
        Reply {
            status,
            body,
            retry_after,
        }
    }

    async fn login(&self, email: &str, password: &str, xff: Option<&str>) -> Reply {
        self.post(
            "/api/auth/login",
            json!({"email": email, "password": password}),
            xff,
        )
        .await
    }

    async fn register(&self, email: &str, password: &str, xff: Option<&str>) -> Reply {
        self.post(
            "/api/auth/register",
            json!({"email": email, "password": password, "name": "Tester"}),
            xff,
        )
        .await
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

const STRONG: &str = "correct horse battery staple";

/// Generous everywhere, so each test tightens only the limit it is about.
fn generous(db: &str) -> Config {
    let mut c = config(db);
    c.login_attempts_per_minute = 1000;
    c.auth = AuthLimits {
        trusted_proxies: TrustedProxies::none(),
        register_attempts_per_minute: 1000,
        login_throttle: ThrottlePolicy {
            free_failures: 1000,
            ..ThrottlePolicy::default()
        },
        hashing: HashLimits::default(),
        password_min_score: 3,
    };
    c
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_login_limit() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    c.login_attempts_per_minute = 3;
    // A private-looking peer is not trusted unless listed: here only 10.0.0.0/8 is.
    c.auth.trusted_proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
    let api = Instance::start(&c).await;
    let started = Instant::now();
    let (mut passed, mut refused) = (0u64, 0u64);
    for i in 0..30 {
        let xff = format!("203.0.113.{i}");
        let r = api
            .login(&format!("u{i}@x.io"), "wrong password", Some(&xff))
            .await;
        if r.status == 429 {
            assert_eq!(error_of(&r.body).0, "RATE_LIMITED");
            assert!(r.retry_after.is_some_and(|s| s >= 1), "{r:?}");
            refused += 1;
        } else {
            assert_eq!(r.status, 401, "{r:?}");
            passed += 1;
        }
    }
    // One budget for all 30 "addresses": the burst of 3 plus a token per 20 s of the run
    // (each attempt runs argon2, slow in debug builds). Honouring the header, all 30 pass.
    let allowance = 3 + started.elapsed().as_secs() / 20 + 1;
    assert!(
        refused > 0 && passed <= allowance,
        "{passed} passed, {refused} refused, allowance {allowance}"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_forged_entries_left_of_it_are_ignored() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    // Two per minute: a token comes back only after 30 s, far longer than this test runs.
    c.login_attempts_per_minute = 2;
    c.auth.trusted_proxies = TrustedProxies::parse("127.0.0.1/32,::1/128").unwrap();
    let api = Instance::start(&c).await;
    for i in 0..2 {
        let forged = format!("198.51.100.{i}, 203.0.113.1");
        assert_eq!(
            api.login("a@x.io", "wrong", Some(&forged)).await.status,
            401
        );
    }
    let r = api
        .login("a@x.io", "wrong", Some("6.6.6.6, 203.0.113.1"))
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    // Another client behind the same proxy has its own budget.
    assert_eq!(
        api.login("a@x.io", "wrong", Some("203.0.113.2"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn failed_logins_per_account_back_off_across_two_instances_and_reveal_nothing() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    c.auth.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
    c.auth.login_throttle = ThrottlePolicy {
        free_failures: 3,
        base: Duration::from_secs(120),
        max: Duration::from_secs(120),
        window: Duration::from_secs(3600),
    };
    let a = Instance::start(&c).await;
    let b = Instance::start(&c).await;
    assert_eq!(a.register("ann@x.io", STRONG, None).await.status, 201);

    // The same sequence for an account and for an email nobody has: the same answers.
    for email in ["Ann@X.io", "nobody@x.io"] {
        let mut statuses = Vec::new();
        let mut last = None;
        for i in 0..5 {
            // Alternate instances and client addresses: neither resets the count.
            let api = if i % 2 == 0 { &a } else { &b };
            let xff = format!("203.0.113.{i}");
            let r = api.login(email, "wrong password", Some(&xff)).await;
            statuses.push(r.status);
            last = Some(r);
        }
        assert_eq!(statuses, [401, 401, 401, 429, 429], "{email}");
        let last = last.unwrap();
        let wait = last.retry_after.unwrap();
        assert!((100..=120).contains(&wait), "Retry-After {wait}");
        let message = last.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("failed logins for this email") && message.contains("try again"),
            "{message}"
        );
    }
    // While blocked even the right password waits (it is not even checked).
    assert_eq!(a.login("ann@x.io", STRONG, None).await.status, 429);
}

#[tokio::test]
async fn a_successful_login_resets_the_account_count() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    c.auth.login_throttle = ThrottlePolicy {
        free_failures: 3,
        base: Duration::from_secs(60),
        max: Duration::from_secs(60),
        window: Duration::from_secs(3600),
    };
    let api = Instance::start(&c).await;
    assert_eq!(api.register("bo@x.io", STRONG, None).await.status, 201);
    assert_eq!(api.login("bo@x.io", "wrong", None).await.status, 401);
    assert_eq!(api.login("bo@x.io", "wrong", None).await.status, 401);
    // The third attempt is the last free one; being right clears the count...
    assert_eq!(api.login("bo@x.io", STRONG, None).await.status, 200);
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    let key = LoginThrottle::key("bo@x.io");
    assert_eq!(store.login_throttle().failures(&key).await.unwrap(), 0);
    // ...so counting starts again from zero instead of blocking for a minute.
    for _ in 0..2 {
        assert_eq!(api.login("bo@x.io", "wrong", None).await.status, 401);
    }
    assert_eq!(api.login("bo@x.io", STRONG, None).await.status, 200);
}

#[tokio::test]
async fn registration_is_limited_per_client_address() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    c.auth.register_attempts_per_minute = 2;
    let api = Instance::start(&c).await;
    for i in 0..2 {
        let xff = format!("203.0.113.{i}");
        let r = api
            .register(&format!("r{i}@x.io"), STRONG, Some(&xff))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    // Taken or not, the answer is 429 now: the budget is checked first.
    for email in ["r0@x.io", "fresh@x.io"] {
        let r = api.register(email, STRONG, Some("203.0.113.99")).await;
        assert_eq!(r.status, 429, "{r:?}");
        assert!(r.retry_after.is_some());
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("registrations from this address")
        );
    }
}

#[tokio::test]
async fn weak_passwords_are_refused_naming_the_field_and_why() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let api = Instance::start(&generous(&db)).await;
    for weak in [
        "password",
        "12345678",
        "        ",
        "password123",
        "tester@x.io",
    ] {
        let r = api.register("tester@x.io", weak, None).await;
        assert_eq!(r.status, 422, "{weak:?}: {r:?}");
        let (code, field) = error_of(&r.body);
        assert_eq!(
            (code.as_str(), field.as_deref()),
            ("VALIDATION_ERROR", Some("password"))
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("is too easy to guess"), "{message}");
        println!("{weak:?}: {message}");
    }
    assert_eq!(api.register("tester@x.io", STRONG, None).await.status, 201);
}

#[tokio::test]
async fn a_registration_flood_gets_503_and_logins_still_get_through() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut c = generous(&db);
    c.auth.hashing = HashLimits {
        concurrency: 2,
        queue: 4,
        max_wait: Duration::from_secs(10),
    };
    let api = std::sync::Arc::new(Instance::start(&c).await);
    assert_eq!(api.register("me@x.io", STRONG, None).await.status, 201);
    let started = Instant::now();
    let one = api.login("me@x.io", STRONG, None).await;
    assert_eq!(one.status, 200);
    let quiet = started.elapsed();

    let flood: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move { api.register(&format!("flood{i}@x.io"), STRONG, None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let during = api.login("me@x.io", STRONG, None).await;
    let busy = started.elapsed();
    assert_eq!(during.status, 200, "{during:?}");

    let mut created = 0;
    let mut refused = 0;
    for f in flood {
        let r = f.await.unwrap();
        match r.status {
            201 => created += 1,
            503 => {
                assert_eq!(r.retry_after, Some(2), "{r:?}");
                assert_eq!(error_of(&r.body).0, "UNAVAILABLE");
                refused += 1;
            }
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    println!(
        "login alone {quiet:?}, during a flood of 16 registrations {busy:?}; \
         {created} registrations created, {refused} refused with 503"
    );
    assert!(refused >= 10, "the queue is bounded: {refused} refused");
    assert_eq!(created + refused, 16);
    // Generous: a login waits for at most one hash in progress, not for the flood.
    assert!(busy < Duration::from_secs(30), "{busy:?}");
}
