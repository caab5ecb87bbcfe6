//! todo-web stays ready while todo-api is down or its database blips, and serves human 503
//! pages that keep what the user typed: against a real todo-api on a PostgreSQL this test
//! owns (stopped and started), and with todo-api itself stopped.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use service_kit::Env;
use std::time::Duration;
use throwaway_postgres::PgServer;

struct Api {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_api(db: &str, listener: tokio::net::TcpListener) -> Api {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let env = Env::from_pairs([
        ("DATABASE_URL", db),
        ("JWT_SECRET", SECRET),
        ("LOG_FORMAT", "text"),
        ("REGISTER_ATTEMPTS_PER_MINUTE", "1000"),
    ]);
    let config = todo_api::config::Config::from_env(&env).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(todo_api::run(config, listener, async move {
        let _ = rx.await;
    }));
    wait_ready(&url).await;
    Api {
        url,
        stop: Some(tx),
        task,
    }
}

async fn status(client: &reqwest::Client, url: String) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// A tasks page or form answered while the API cannot serve it: a 503 page for a human.
fn assert_human_503(page: &Page) {
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(page.body.contains("<html"), "a whole page: {}", page.body);
    assert!(
        page.text().contains("unavailable") || page.text().contains("can't reach"),
        "says the service is unavailable: {}",
        page.text()
    );
}

#[tokio::test]
async fn web_stays_ready_and_explains_while_the_api_or_its_database_is_down() {
    let pg = PgServer::start().unwrap();
    let db = pg.create_database("web_readiness").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = listener.local_addr().unwrap();
    let mut api = start_api(&db, listener).await;
    let mut stops = Vec::new();
    let web = start_web(&api.url, false, &mut stops).await;
    wait_ready(&web).await;
    let client = reqwest::Client::new();

    let mut b = Browser::new(&web);
    b.sign_up("reader@example.com").await;
    let r = b
        .post("/tasks", &[("title", "Water the plants"), ("back", "")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // 1. The API's database goes away: the API answers 503, todo-web says so on a page.
    pg.stop().unwrap();
    let list = b.get("/tasks").await;
    assert_human_503(&list);
    let add = b
        .post(
            "/tasks",
            &[
                ("title", "Buy oat milk"),
                ("description", "two cartons"),
                ("back", ""),
            ],
        )
        .await;
    assert_human_503(&add);
    assert!(add.body.contains("value=\"Buy oat milk\""), "{}", add.body);
    assert!(add.body.contains("two cartons"), "{}", add.body);
    assert_eq!(status(&client, format!("{web}/readyz")).await.0, 200);
    assert_eq!(status(&client, format!("{web}/livez")).await.0, 200);

    // 2. The API process itself is gone (its pods unready, no endpoints).
    pg.start_again().unwrap();
    let _ = api.stop.take().unwrap().send(());
    api.task.await.unwrap().unwrap();
    let list = b.get("/tasks").await;
    assert_human_503(&list);
    assert_eq!(list.header("retry-after"), "5");
    let add = b
        .post("/tasks", &[("title", "Call the plumber"), ("back", "")])
        .await;
    assert_human_503(&add);
    assert!(
        add.body.contains("value=\"Call the plumber\""),
        "{}",
        add.body
    );
    // The edit form too: the changes typed stay on the page.
    let edit = b
        .post(
            "/tasks/1",
            &[
                ("title", "Water the ferns"),
                ("description", "on the balcony"),
                ("back", ""),
            ],
        )
        .await;
    assert_human_503(&edit);
    assert!(
        edit.body.contains("value=\"Water the ferns\""),
        "{}",
        edit.body
    );
    assert!(edit.body.contains("on the balcony"), "{}", edit.body);
    assert!(
        edit.body.contains("changes were not saved"),
        "{}",
        edit.body
    );
    let (ready, body) = status(&client, format!("{web}/readyz")).await;
    assert_eq!(
        ready, 200,
        "web's readiness does not follow the API: {body}"
    );
    let (health, body) = status(&client, format!("{web}/health")).await;
    assert_eq!(health, 503, "/health still reports the API: {body}");
    assert_eq!(body["checks"]["api"], "failed");
    // Signing in keeps the email typed.
    let mut other = Browser::new(&web);
    other.get("/signin").await;
    let r = other
        .post(
            "/signin",
            &[
                ("email", "reader@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("value=\"reader@example.com\""),
        "{}",
        r.body
    );

    // 3. The API comes back on the same address: the same session sees its task again.
    let mut listener = None;
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(api_addr).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let _api = start_api(&db, listener.expect("the API's port is free again")).await;
    let list = b.get("/tasks").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains("Water the plants"));
    assert_eq!(status(&client, format!("{web}/health")).await.0, 200);
    drop(stops);
}
