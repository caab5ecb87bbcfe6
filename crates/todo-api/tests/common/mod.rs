//! Starts the real API on a loopback port against a real PostgreSQL database.
#![allow(dead_code, clippy::unwrap_used)]

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use std::time::Duration;
use todo_api::config::Config;

pub const SECRET: &str = "test-secret-test-secret-test-secret!";

pub struct TestApi {
    pub base: String,
    pub client: Client,
    pub database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_owned(),
        jwt_secret: SECRET.to_owned(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        token_ttl: Duration::from_secs(3600),
        login_attempts_per_minute: 1000,
        // Generous client budgets: tests register many users from one address. The limits
        // themselves are tested in limits.rs.
        auth: todo_api::config::AuthLimits {
            register_attempts_per_minute: 1000,
            ..todo_api::config::AuthLimits::default()
        },
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(5),
        chat: todo_api::config::ChatConfig::default(),
    }
}

impl TestApi {
    pub async fn start() -> TestApi {
        let url = throwaway_postgres::fresh_database().unwrap();
        TestApi::start_with(config(&url)).await
    }

    pub async fn start_with(config: Config) -> TestApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let database_url = config.database_url.clone();
        let server = tokio::spawn(todo_api::run(config, listener, async move {
            let _ = stopped.await;
        }));
        let api = TestApi {
            base,
            client: Client::new(),
            database_url,
            stop: Some(stop),
            server: Some(server),
        };
        api.wait_ready().await;
        api
    }

    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("todo-api did not become ready");
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.unwrap(),
            None => Ok(()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Registers a user and returns (token, user id).
    pub async fn register(&self, email: &str) -> (String, String) {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "correct horse", "name": "Tester"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            body["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn add_task(&self, token: &str, body: Value) -> Value {
        let (status, task) = self.post("/api/tasks", token, body).await;
        assert_eq!(status, 201, "{task}");
        task
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Asserts the API's error shape and returns (code, field).
pub fn error_of(body: &Value) -> (String, Option<String>) {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without a message: {body}"
    );
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

/// Starts todo-mcp on `database_url` (it stops with the runtime); returns its `host:port`.
pub async fn start_mcp(database_url: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = todo_mcp::Config {
        database_url: database_url.to_owned(),
        jwt_secret: SECRET.into(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        allowed_hosts: None,
        allowed_origins: Default::default(),
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(2),
    };
    tokio::spawn(todo_mcp::run(config, listener, std::future::pending()));
    addr
}
