//! What the page says when a chat turn or a form post does not get its answer: the API
//! still working on a turn after todo-web stopped waiting, a resubmitted message, and a
//! database outage under the task and chat forms. Real todo-api, PostgreSQL and todo-web on
//! loopback; todo-mcp is a server that accepts and never answers.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use service_kit::Env;
use std::time::Duration;
use throwaway_postgres::PgServer;
use tokio::net::TcpListener;

/// A server that accepts connections and never answers (a hung todo-mcp).
async fn hanging_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// todo-api on `db` with chat through `mcp_addr`, then todo-web in front whose chat calls
/// give up after `chat_timeout`.
async fn stack(db: &str, mcp_addr: &str, mcp_timeout: &str, chat_timeout: Duration) -> String {
    let api_env = Env::from_pairs([
        ("DATABASE_URL", db),
        ("JWT_SECRET", SECRET),
        ("LOG_FORMAT", "text"),
        ("LOGIN_ATTEMPTS_PER_MINUTE", "1000"),
        ("MCP_URL", &format!("http://{mcp_addr}/mcp")),
        ("MCP_TIMEOUT_SECONDS", mcp_timeout),
    ]);
    let config = todo_api::config::Config::from_env(&api_env).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(todo_api::run(config, l, std::future::pending()));
    wait_ready(&api).await;

    let client = todo_web::api::Api::new(&api, Duration::from_secs(5))
        .unwrap()
        .with_chat_timeout(chat_timeout);
    let health = todo_web::health(&client);
    let app = todo_web::app(todo_web::routes::AppState { api: client }, &health, false);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            l,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    wait_ready(&web).await;
    web
}

#[tokio::test]
async fn a_slow_turn_is_reported_as_still_processing_and_its_reply_appears_on_reload() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = hanging_server().await;
    let web = stack(&db, &mcp, "3", Duration::from_secs(1)).await;
    let mut b = Browser::new(&web);
    b.sign_up("slow@example.com").await;
    // A turn that needs no tool answers at once and opens the conversation.
    let r = b.post("/chat", &[("message", "hello"), ("back", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    let conversation = page
        .body
        .split("name=\"conversation_id\" value=\"")
        .nth(1)
        .unwrap();
    let conversation = conversation.split('"').next().unwrap().to_owned();

    // This one lists tasks through the hung todo-mcp: todo-web gives up first.
    let id = uuid::Uuid::new_v4().to_string();
    let fields = [
        ("message", "what's left?"),
        ("conversation_id", conversation.as_str()),
        ("client_message_id", id.as_str()),
        ("back", ""),
    ];
    let r = b.post("/chat", &fields).await;
    assert_eq!(r.status, 504, "{}", r.body);
    let text = r.text();
    assert!(text.contains("may still be processing"), "{text}");
    assert!(!text.contains("not sent"), "{text}");
    // The message stays in the box (HTML-escaped).
    assert!(
        r.body.contains("name=\"message\" value=\"what&#"),
        "{}",
        r.body
    );

    // Sent again while the API is still on it: no second turn, and the page says so.
    let r = b.post("/chat", &fields).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.text().contains("still being answered"), "{}", r.text());

    // Once the API's MCP timeout has passed, the stored reply is on the page.
    let mut log = String::new();
    for _ in 0..100 {
        let page = b.get(&format!("/tasks?c={conversation}")).await;
        log = page.text_of("chat-log").unwrap_or_default();
        if log.contains("can't reach the task service") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log.contains("can't reach the task service"), "{log}");
    assert_eq!(log.matches("You what's left?").count(), 1, "{log}");

    // And sending it once more gets that stored answer, back on the page.
    let r = b.post("/chat", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[tokio::test]
async fn forms_keep_what_was_typed_during_a_database_outage() {
    let pg = PgServer::start().unwrap();
    let db = pg.create_database("webdown").unwrap();
    let mcp = hanging_server().await;
    let web = stack(&db, &mcp, "3", Duration::from_secs(10)).await;
    let mut b = Browser::new(&web);
    b.sign_up("down@example.com").await;
    pg.stop().unwrap();

    let r = b
        .post(
            "/tasks",
            &[("title", "typed before the outage"), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("value=\"typed before the outage\""),
        "{}",
        r.body
    );
    assert!(r.text().contains("unavailable right now"), "{}", r.text());

    let r = b
        .post(
            "/chat",
            &[("message", "add words kept in the box"), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("add words kept in the box"), "{}", r.body);
    pg.start_again().unwrap();
}
