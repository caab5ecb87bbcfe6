//! A real todo-mcp on a loopback port against a fresh database in the throwaway PostgreSQL,
//! shared by the integration tests (each `tests/*.rs` uses what it needs).
#![allow(clippy::unwrap_used, dead_code)]

use std::time::Duration;
use todo_auth::Tokens;
use todo_store::{PoolSettings, Store};
use uuid::Uuid;

pub const SECRET: &str = "mcp-test-secret-mcp-test-secret-mcp";

pub struct Running {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub store: Store,
    pub tokens: Tokens,
    pub database_url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the server (migrated, ready) with these Host and Origin allow-lists.
pub async fn start(allowed_hosts: Option<Vec<String>>, allowed_origins: Vec<String>) -> Running {
    start_with(allowed_hosts, allowed_origins, true).await
}

/// [`start`], the public URL being `http://127.0.0.1:PORT/mcp`, todo-api sign-in tokens
/// accepted or not.
pub async fn start_with(
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Vec<String>,
    accept_session_tokens: bool,
) -> Running {
    let db = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = todo_mcp::Config {
        database_url: db.clone(),
        jwt_secret: SECRET.into(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        allowed_hosts,
        allowed_origins,
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(2),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut settings = todo_mcp::resource::ResourceSettings::for_url(&format!("{base}/mcp"));
    settings.accept_session_tokens = accept_session_tokens;
    tokio::spawn(todo_mcp::run_with(config, settings, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Running {
        database_url: db,
        base,
        store,
        tokens: Tokens::new(SECRET, Duration::from_secs(600)),
        _stop: stop,
    }
}

/// Waits (bounded) until `url` answers 200.
pub async fn wait_for(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..250 {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Running {
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// A new user and a bearer token for them.
    pub async fn user(&self, email: &str) -> (Uuid, String) {
        let user = self.store.users().create(email, "U", "x").await.unwrap();
        (user.id, self.tokens.issue(user.id, email, "U").unwrap())
    }
}
