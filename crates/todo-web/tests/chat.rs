//! The chat panel without JavaScript: a turn goes to the real agent (todo-api's built-in
//! engine calling todo-mcp), the page shows the reply and its tool calls, the task list has
//! the new task, and the conversation reopens from the URL or, after a reload, the cookie.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn a_chat_turn_changes_tasks_and_the_conversation_reopens() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    let page = b.sign_up("chat@example.com").await;
    assert!(
        page.text_of("chat-log")
            .unwrap()
            .contains("try “add call mom friday”")
            || page
                .text_of("chat-log")
                .unwrap()
                .contains("add call mom friday")
    );
    assert!(
        page.body.contains("aria-live=\"polite\""),
        "the log is announced"
    );
    assert!(
        page.body
            .contains("<label for=\"chat-message\">Message</label>")
    );

    let r = b
        .post(
            "/chat",
            &[
                ("message", "add call mom friday"),
                ("conversation_id", ""),
                ("back", "status=pending"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location().to_owned();
    assert!(
        location.starts_with("/tasks?status=pending&c="),
        "{location}"
    );
    assert!(location.ends_with("#chat-panel"), "{location}");
    let conversation = location
        .trim_start_matches("/tasks?status=pending&c=")
        .trim_end_matches("#chat-panel")
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&conversation).is_ok(),
        "{conversation}"
    );
    assert!(r.set_cookie("todo_conv").unwrap().contains(&conversation));

    let page = b.follow(&r).await;
    let log = page.text_of("chat-log").unwrap();
    assert!(log.contains("You add call mom friday"), "{log}");
    assert!(log.contains("Assistant Added #1 “call mom”"), "{log}");
    assert!(
        log.contains("add_task (")
            && log.contains("title: call mom")
            && log.contains("→ #1 call mom"),
        "{log}"
    );
    // The task list already has it, due next Friday.
    let row = page.text_of("task-1").unwrap();
    assert!(row.contains("call mom"), "{row}");
    assert!(
        row.contains("Fri") || row.contains("today") || row.contains("tomorrow"),
        "{row}"
    );
    // The conversation list names it and marks it current; the form continues it.
    let convs = page.text_of("conversations").unwrap();
    assert!(convs.contains("add call mom friday"), "{convs}");
    assert!(page.body.contains(&format!(
        "name=\"conversation_id\" value=\"{conversation}\""
    )));
    assert!(page.body.contains("aria-current=\"true\""));

    // A reload without `c` reopens it from the cookie; the next turn continues it.
    let reload = b.get("/tasks").await;
    assert!(
        reload
            .text_of("chat-log")
            .unwrap()
            .contains("Added #1 “call mom”")
    );
    let r = b
        .post(
            "/chat",
            &[
                ("message", "what's left?"),
                ("conversation_id", &conversation),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("/tasks?c={conversation}#chat-panel"));
    let page = b.follow(&r).await;
    let log = page.text_of("chat-log").unwrap();
    assert!(
        log.contains("what's left?") && log.contains("list_tasks"),
        "{log}"
    );
    let r = b
        .post(
            "/chat",
            &[
                ("message", "done with 1"),
                ("conversation_id", &conversation),
                ("back", ""),
            ],
        )
        .await;
    let page = b.follow(&r).await;
    assert!(
        page.task_rows()[0].1.contains("done"),
        "completed through chat: {:?}",
        page.task_rows()
    );

    // A new chat: empty log, no conversation id; the old one stays listed.
    let fresh = b.get("/tasks?c=new").await;
    assert!(
        fresh
            .text_of("chat-log")
            .unwrap()
            .contains("Ask me to manage your tasks")
    );
    assert!(fresh.body.contains("name=\"conversation_id\" value=\"\""));
    assert!(
        fresh
            .text_of("conversations")
            .unwrap()
            .contains("add call mom friday")
    );

    // Errors next to the message box, with the text kept.
    let r = b
        .post(
            "/chat",
            &[("message", "   "), ("conversation_id", ""), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.text_of("chat-message-error").as_deref(),
        Some("Type a message first.")
    );
    let long = "x".repeat(2001);
    let r = b
        .post(
            "/chat",
            &[("message", &long), ("conversation_id", ""), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text_of("chat-message-error")
            .unwrap()
            .contains("at most 2000")
    );
    assert!(r.body.contains(&long), "the message is kept");

    // A conversation that is not (or no longer) there.
    let missing = uuid::Uuid::new_v4().to_string();
    let page = b.get(&format!("/tasks?c={missing}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("That conversation no longer exists."));
    let r = b
        .post(
            "/chat",
            &[
                ("message", "hello"),
                ("conversation_id", &missing),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(
        r.body
            .contains("That conversation no longer exists. Your message was not sent")
    );

    // Another user cannot open it.
    let mut other = stack.browser();
    other.sign_up("other-chat@example.com").await;
    let page = other.get(&format!("/tasks?c={conversation}")).await;
    assert!(page.body.contains("That conversation no longer exists."));
    assert!(!page.body.contains("Added #1"));
    assert!(
        !page
            .text_of("conversations")
            .unwrap()
            .contains("add call mom friday")
    );
}

#[tokio::test]
async fn without_a_working_assistant_the_tasks_still_work() {
    // todo-api without MCP_URL answers chat with 503; the page says so next to the chat box.
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.sign_up("nochat@example.com").await;
    b.post("/tasks", &[("title", "still here"), ("back", "")])
        .await;
    let r = b
        .post(
            "/chat",
            &[
                ("message", "add call mom friday"),
                ("conversation_id", ""),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 503);
    assert!(
        r.body
            .contains("The assistant is unavailable right now. Your message was not sent"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("value=\"add call mom friday\""),
        "the message is kept"
    );
    assert!(
        r.text_of("task-1").unwrap().contains("still here"),
        "the task list still renders"
    );
}
