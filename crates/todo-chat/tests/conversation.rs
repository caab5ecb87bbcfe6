//! The built-in engine over several turns, against a real todo-mcp and PostgreSQL:
//! confirmations ("yes", "no", a number) answered after a restart, follow-ups ("delete it",
//! "the second one"), statements, bulk deletes, the not-found path, filters and zones; and a
//! property test that whatever the engine reports as done is what its tool calls did.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use todo_chat::builtin::BuiltinEngine;
use todo_chat::{ChatService, ChatTurn, HistoryLimits, McpClient, TurnRequest, UserClock};
use todo_store::{PoolSettings, Store, TaskQuery};
use uuid::Uuid;

const SECRET: &str = "conversation-test-secret-conversation!";

/// "Now" in these tests: Tuesday 2026-11-24 18:00 UTC (10:00 in Los Angeles, 07:00 on
/// Wednesday the 25th in Auckland), so relative dates are the same on every run.
fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-24 18:00 UTC)
}

struct Rig {
    db: String,
    mcp_url: String,
    store: Store,
    service: ChatService,
    user: Uuid,
    token: String,
}

async fn start_mcp(db: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = todo_mcp::Config {
        database_url: db.to_owned(),
        jwt_secret: SECRET.into(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        allowed_hosts: None,
        allowed_origins: Vec::new(),
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(1),
    };
    tokio::spawn(todo_mcp::run(config, listener, std::future::pending()));
    url
}

/// A chat service of its own (a fresh pool and MCP client): a restarted or other replica.
async fn service(db: &str, mcp_url: &str, token: &str) -> (Store, ChatService) {
    let store = Store::connect_lazy(db, &PoolSettings::default()).unwrap();
    let mcp = Arc::new(McpClient::new(mcp_url.to_owned(), Duration::from_secs(10)).unwrap());
    // todo-mcp may still be starting: wait until it answers (bounded).
    for _ in 0..200 {
        if mcp.tools(token).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let service = ChatService::new(
        store.clone(),
        mcp,
        Arc::new(BuiltinEngine),
        HistoryLimits::default(),
    )
    .with_clock_source(now);
    (store, service)
}

async fn rig() -> Rig {
    let db = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let mcp_url = start_mcp(&db).await;
    let user = store.users().create("c@x.io", "C", "x").await.unwrap().id;
    let token = todo_auth::Tokens::new(SECRET, Duration::from_secs(3600))
        .issue(user, "c@x.io", "C")
        .unwrap();
    let (store, service) = service(&db, &mcp_url, &token).await;
    Rig {
        db,
        mcp_url,
        store,
        service,
        user,
        token,
    }
}

impl Rig {
    async fn say_in(&self, zone: &str, conversation: Option<Uuid>, message: &str) -> ChatTurn {
        let turn = self
            .service
            .turn_once(TurnRequest {
                user: self.user,
                token: &self.token,
                conversation,
                message,
                client_message_id: None,
                zone,
            })
            .await
            .unwrap();
        assert!(turn.error.is_none(), "{message}: {:?}", turn.error);
        turn
    }

    async fn say(&self, conversation: Option<Uuid>, message: &str) -> ChatTurn {
        self.say_in("UTC", conversation, message).await
    }

    /// Replaces the service by a fresh one on the same database and todo-mcp.
    async fn restart(&mut self) {
        let (store, service) = service(&self.db, &self.mcp_url, &self.token).await;
        self.store = store;
        self.service = service;
    }

    async fn tasks(&self) -> Vec<todo_store::Task> {
        self.store
            .tasks()
            .list(
                self.user,
                &TaskQuery {
                    limit: 200,
                    ..TaskQuery::default()
                },
            )
            .await
            .unwrap()
            .items
    }

    async fn task(&self, title: &str) -> todo_store::Task {
        self.tasks()
            .await
            .into_iter()
            .find(|t| t.title == title)
            .unwrap_or_else(|| panic!("no task {title:?}"))
    }
}

fn tools(turn: &ChatTurn) -> Vec<&str> {
    turn.tool_calls.iter().map(|c| c.tool.as_str()).collect()
}

#[tokio::test]
async fn a_statement_is_confirmed_and_yes_works_after_a_restart() {
    let mut rig = rig().await;
    let first = rig.say(None, "add buy groceries").await;
    let c = Some(first.conversation_id);
    rig.say(c, "add call the plumber").await;
    let asked = rig.say(c, "I bought the groceries").await;
    assert!(
        asked.response.contains("mark #1 “buy groceries” as done?"),
        "{}",
        asked.response
    );
    assert_eq!(tools(&asked), ["list_tasks"]);
    assert!(!rig.task("buy groceries").await.completed);

    // Another replica (or the same one restarted) gets the answer.
    rig.restart().await;
    let done = rig.say(c, "yes").await;
    assert_eq!(done.response, "Marked #1 “buy groceries” as done. ✓");
    assert_eq!(tools(&done), ["complete_task"]);
    assert!(rig.task("buy groceries").await.completed);
    // The question was answered: a second "yes" confirms nothing.
    let again = rig.say(c, "yes").await;
    assert!(
        again.response.contains("nothing waiting"),
        "{}",
        again.response
    );
    assert!(again.tool_calls.is_empty());

    // "no" leaves the task alone.
    rig.say(c, "I called the plumber").await;
    let no = rig.say(c, "no").await;
    assert!(no.tool_calls.is_empty());
    assert!(!rig.task("call the plumber").await.completed);
}

#[tokio::test]
async fn bulk_deletes_are_confirmed_with_the_count() {
    let rig = rig().await;
    let c = Some(rig.say(None, "add a").await.conversation_id);
    for m in ["add b", "add c", "done with 1", "done with 2"] {
        rig.say(c, m).await;
    }
    let asked = rig.say(c, "remove all completed tasks").await;
    assert!(
        asked.response.starts_with("Delete 2 completed tasks?"),
        "{}",
        asked.response
    );
    assert_eq!(rig.tasks().await.len(), 3, "nothing deleted before the yes");
    let done = rig.say(c, "yes").await;
    assert_eq!(tools(&done), ["delete_task", "delete_task"]);
    assert_eq!(done.response, "Deleted 2 tasks: #1, #2.");
    let left: Vec<String> = rig.tasks().await.into_iter().map(|t| t.title).collect();
    assert_eq!(left, ["c"]);
    // Something else instead of an answer drops the question.
    rig.say(c, "done with 3").await;
    rig.say(c, "delete all my tasks").await;
    rig.say(c, "what's left?").await;
    let late = rig.say(c, "yes").await;
    assert!(late.tool_calls.is_empty(), "{:?}", late.tool_calls);
    assert_eq!(rig.tasks().await.len(), 1);
}

#[tokio::test]
async fn ambiguity_is_asked_and_answered_by_position_or_number() {
    let rig = rig().await;
    let c = Some(rig.say(None, "add call mom").await.conversation_id);
    rig.say(c, "add call dad").await;
    rig.say(c, "add call the bank").await;
    let asked = rig.say(c, "done with call").await;
    assert!(
        asked.response.starts_with("Which one do you mean?"),
        "{}",
        asked.response
    );
    assert!(
        asked.response.contains("#2 “call dad”"),
        "{}",
        asked.response
    );
    assert!(rig.tasks().await.iter().all(|t| !t.completed));
    let done = rig.say(c, "the second one").await;
    assert_eq!(tools(&done), ["complete_task"]);
    assert!(done.response.starts_with("Marked #"), "{}", done.response);
    let completed: Vec<String> = rig
        .tasks()
        .await
        .into_iter()
        .filter(|t| t.completed)
        .map(|t| t.title)
        .collect();
    assert_eq!(completed.len(), 1);
    // The second option offered is the one completed.
    let second = asked.response.lines().nth(2).unwrap();
    assert!(second.contains(&completed[0]), "{second} vs {completed:?}");

    // A number answers too: a task number among the options.
    rig.say(c, "delete call").await;
    let deleted = rig.say(c, "3").await;
    assert_eq!(deleted.response, "Deleted #3 “call the bank”.");
}

#[tokio::test]
async fn follow_ups_name_the_task_in_focus() {
    let rig = rig().await;
    let c = Some(rig.say(None, "add buy milk").await.conversation_id);
    let gone = rig.say(c, "delete it").await;
    assert_eq!(gone.response, "Deleted #1 “buy milk”.");
    rig.say(c, "add water plants").await;
    rig.say(c, "add walk the dog").await;
    rig.say(c, "add pay rent").await;
    rig.say(c, "what's left?").await;
    let done = rig.say(c, "mark the second one as done").await;
    assert!(done.response.starts_with("Marked #3"), "{}", done.response);
    // "it" is now the task just completed.
    let reopened = rig.say(c, "undo it").await;
    assert_eq!(reopened.response, "Reopened #3 “walk the dog”.");
    // After a list of several, "it" is ambiguous: asked, not guessed.
    rig.say(c, "what's left?").await;
    let asked = rig.say(c, "delete it").await;
    assert!(
        asked.response.starts_with("Which one"),
        "{}",
        asked.response
    );
    assert_eq!(rig.tasks().await.len(), 3);
}

#[tokio::test]
async fn not_found_searches_little_and_stores_no_task_list() {
    let rig = rig().await;
    let id = rig.say(None, "add buy milk").await.conversation_id;
    let c = Some(id);
    for i in 0..30 {
        rig.say(c, &format!("add chore number {i}")).await;
    }
    let miss = rig.say(c, "done with the xylophone lesson").await;
    assert!(
        miss.response.starts_with("I couldn't find"),
        "{}",
        miss.response
    );
    assert!(miss.tool_calls.len() <= 2, "{:?}", miss.tool_calls);
    for call in &miss.tool_calls {
        assert_eq!(call.tool, "list_tasks");
        assert!(call.arguments["limit"].as_u64().unwrap() <= 10, "{call:?}");
        assert!(call.arguments["query"].is_string(), "{call:?}");
    }
    // The conversation keeps no task list for a miss: no question, and at most the one task
    // the conversation was already about (the last one added).
    let state = rig
        .store
        .conversations()
        .state(rig.user, id)
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(state.get("pending").is_none(), "{state}");
    assert!(
        state["focus"].as_array().map_or(0, Vec::len) <= 1,
        "{state}"
    );
    assert!(state.to_string().len() < 200, "{state}");
}

#[tokio::test]
async fn filters_really_filter_and_dates_are_the_users() {
    let rig = rig().await;
    let zone = "Pacific/Auckland";
    let clock = UserClock::new(zone, now()).unwrap();
    let c = Some(
        rig.say_in(zone, None, "add write report #work")
            .await
            .conversation_id,
    );
    rig.say_in(zone, c, "add pay rent tomorrow").await;
    rig.say_in(zone, c, "add buy milk #home urgent").await;
    rig.say_in(zone, c, "add file taxes next month").await;

    let work = rig.say_in(zone, c, "list my work tasks").await;
    assert!(
        work.response
            .starts_with("You have 1 task pending tagged #work"),
        "{}",
        work.response
    );
    assert!(!work.response.contains("milk"));
    let tomorrow = rig.say_in(zone, c, "show tasks due tomorrow").await;
    assert!(
        tomorrow.response.contains("pay rent") && !tomorrow.response.contains("taxes"),
        "{}",
        tomorrow.response
    );
    let urgent = rig.say_in(zone, c, "do I have anything urgent?").await;
    assert!(
        urgent.response.contains("buy milk") && !urgent.response.contains("report"),
        "{}",
        urgent.response
    );
    let count = rig.say_in(zone, c, "how many tasks do I have?").await;
    assert_eq!(count.response, "You have 4 tasks pending.");
    rig.say_in(zone, c, "done with report").await;
    let finished = rig
        .say_in(zone, c, "show me everything I've finished")
        .await;
    assert!(
        finished.response.starts_with("You have 1 task completed"),
        "{}",
        finished.response
    );
    let weather = rig.say_in(zone, c, "what's the weather").await;
    assert!(weather.tool_calls.is_empty());

    // "tomorrow" is the user's tomorrow: the start of that day in Auckland.
    let rent = rig.task("pay rent").await;
    let due = rent.due_at.unwrap();
    assert_eq!(clock.local(due).date(), clock.today().next_day().unwrap());
    assert_eq!(clock.local(due).time(), time::Time::MIDNIGHT);
    // "actually I didn't finish ..." reopens.
    let reopened = rig
        .say_in(zone, c, "actually I didn't finish the report")
        .await;
    assert_eq!(reopened.response, "Reopened #1 “write report”.");
    // An unknown zone is refused, naming the field.
    let bad = rig
        .service
        .turn_once(TurnRequest {
            user: rig.user,
            token: &rig.token,
            conversation: c,
            message: "hi",
            client_message_id: None,
            zone: "Mars/Olympus",
        })
        .await;
    assert!(
        matches!(
            bad,
            Err(todo_chat::TurnError::Invalid { field: "zone", .. })
        ),
        "{bad:?}"
    );
}

/// What a reply claims was done, as (verb, task number): one per "Added #n", "Marked #n",
/// "Reopened #n", "Deleted #n", "Updated #n", and each number of "Deleted k tasks: #a, #b".
fn claims(reply: &str) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for line in reply.lines() {
        for (prefix, verb) in [
            ("Added #", "add_task"),
            ("Marked #", "complete_task"),
            ("Reopened #", "complete_task"),
            ("Deleted #", "delete_task"),
            ("Updated #", "update_task"),
        ] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                out.push((verb, n.parse().unwrap_or(-1)));
            }
        }
        if let Some(rest) = line
            .strip_prefix("Deleted ")
            .filter(|r| r.contains("tasks:") || r.contains("task:"))
        {
            for part in rest.split('#').skip(1) {
                let n: String = part.chars().take_while(char::is_ascii_digit).collect();
                out.push(("delete_task", n.parse().unwrap_or(-1)));
            }
        }
    }
    out.sort();
    out
}

/// The changes the tool calls made, as (tool, task number).
fn changes(turn: &ChatTurn) -> Vec<(&'static str, i64)> {
    let mut out: Vec<(&'static str, i64)> = turn
        .tool_calls
        .iter()
        .filter(|c| !c.is_error)
        .filter_map(|c| {
            let tool = match c.tool.as_str() {
                "add_task" => "add_task",
                "complete_task" => "complete_task",
                "delete_task" => "delete_task",
                "update_task" => "update_task",
                _ => return None,
            };
            let n = c.result["task"]["number"].as_i64().unwrap_or(-2);
            Some((tool, n))
        })
        .collect();
    out.sort();
    out
}

fn message() -> impl Strategy<Value = String> {
    let verbs = prop::sample::select(vec![
        "add",
        "delete",
        "remove",
        "done with",
        "mark",
        "undo",
        "reopen",
        "rename",
        "move",
        "I bought",
        "I called",
        "show",
        "what's",
        "how many",
        "tag",
        "make",
        "remove all",
        "actually I didn't finish",
        "please add",
        "new:",
        "clear",
        "yes",
        "no",
        "the second one",
        "delete it",
        "finished",
        "",
    ]);
    let objects = prop::sample::select(vec![
        "milk",
        "the milk one",
        "1",
        "2",
        "3",
        "task 4",
        "groceries",
        "call mom",
        "completed tasks",
        "my work tasks",
        "the report",
        "it",
        "tasks",
        "everything",
        "overdue",
        "left",
        "#home to 2",
        "3 high priority",
        "2 to friday",
        "1 to buy oat milk",
        "xyzzy",
        "",
    ]);
    let tails = prop::sample::select(vec![
        "",
        " tomorrow",
        " at 5pm",
        " next month",
        " on the 15th",
        " please",
        " thanks!",
        " tmrw",
        " it's important",
        " high",
        " done",
        " #work",
        "?",
        " and show my tasks",
        " then delete 1",
    ]);
    (verbs, objects, tails).prop_map(|(v, o, t)| format!("{v} {o}{t}").trim().to_owned())
}

/// For any message: every change the tool calls made is one the reply reports, and every
/// change the reply reports is one a tool call made (no success claimed for nothing, no
/// silent change). A reply that asks something made no change at all.
#[test]
fn replies_report_exactly_what_the_tools_did() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rig = runtime.block_on(async {
        let rig = rig().await;
        for m in [
            "add buy milk",
            "add call mom #home",
            "add the report",
            "add groceries run",
            "done with 3",
        ] {
            rig.say(None, m).await;
        }
        rig
    });
    let conversation = runtime.block_on(rig.say(None, "hi")).conversation_id;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let changed = std::sync::atomic::AtomicUsize::new(0);
    let asked = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&message(), |m| {
            let turn = runtime.block_on(rig.say(Some(conversation), &m));
            let claimed = claims(&turn.response);
            let made = changes(&turn);
            prop_assert_eq!(
                &claimed,
                &made,
                "message {:?} reply {:?} calls {:?}",
                m,
                turn.response,
                turn.tool_calls
            );
            let asks = turn.response.contains("(yes/no)") || turn.response.contains("Which one");
            if asks {
                prop_assert!(made.is_empty(), "asked and changed: {:?}", turn.response);
                asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if !made.is_empty() {
                changed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    // The property is exercised on messages that change things (about one in ten does;
    // none in 128 would mean the generator or the engine broke).
    let (changed, asked) = (changed.into_inner(), asked.into_inner());
    println!("{changed} messages changed tasks, {asked} were answered with a question");
    assert!(changed >= 1, "changed {changed}, asked {asked}");
}

/// The issue's kinds of failure, in one conversation as a user types them: each reply must
/// start as shown (what was done, or the question asked), never a success for the wrong thing.
#[tokio::test]
async fn a_new_users_conversation_goes_right() {
    let rig = rig().await;
    let zone = "America/Los_Angeles";
    let script: [(&str, &str); 26] = [
        ("hi", "Hi!"),
        (
            "add finish slides for monday, it's important",
            "Added #1 “finish slides” (due Mon 30 Nov, high priority)",
        ),
        (
            "add call plumber high",
            "Added #2 “call plumber” (high priority)",
        ),
        (
            "add pay rent on the 15th",
            "Added #3 “pay rent” (due Tue 15 Dec)",
        ),
        (
            "add dentist at 5pm tomorrow",
            "Added #4 “dentist” (due tomorrow 17:00)",
        ),
        (
            "new: buy the groceries #home",
            "Added #5 “buy the groceries” (#home)",
        ),
        ("add the tag work to task 1", "Updated #1 “finish slides”"),
        (
            "list my work tasks",
            "You have 1 task pending tagged #work:\n• #1 “finish slides”",
        ),
        (
            "show tasks due tomorrow",
            "You have 1 task due tomorrow:\n• #4 “dentist”",
        ),
        ("what's the weather", "I can only help with your tasks"),
        ("how many tsks do I have?", "You have 5 tasks pending."),
        (
            "do I have anything urgent?",
            "You have 2 tasks pending with high priority:",
        ),
        (
            "I bought the groceries",
            "Do you want me to mark #5 “buy the groceries” as done?",
        ),
        ("yes", "Marked #5 “buy the groceries” as done. ✓"),
        (
            "done with the slides",
            "Marked #1 “finish slides” as done. ✓",
        ),
        (
            "actually I didn't finish the slides",
            "Reopened #1 “finish slides”.",
        ),
        (
            "show me everything I've finished",
            "You have 1 task completed:\n• #5",
        ),
        (
            "remove all completed tasks",
            "Delete 1 completed task? This can't be undone. (yes/no)",
        ),
        ("no", "OK, I left everything as it was."),
        ("blorp", "Sorry, I didn't understand that."),
        ("what's left?", "You have 4 tasks pending:"),
        ("delete the second one", "Deleted #2 “call plumber”."),
        (
            "move 4 to friday at 9am",
            "Updated #4 “dentist” (due Fri 27 Nov 09:00)",
        ),
        (
            "buy stamps friday",
            "Should I add “buy stamps” (due Fri 27 Nov) as a task? (yes/no)",
        ),
        ("yes", "Added #6 “buy stamps” (due Fri 27 Nov)"),
        ("thanks!", "You're welcome!"),
    ];
    let mut conversation = None;
    for (message, wanted) in script {
        let turn = rig.say_in(zone, conversation, message).await;
        conversation = Some(turn.conversation_id);
        assert!(
            turn.response.starts_with(wanted),
            "{message:?}\n  got    {:?}\n  wanted {wanted:?}",
            turn.response
        );
    }
}

/// The built-in engine does not stream: its answer goes out as one piece of text after its
/// tool calls; a repeat of the same client message id sends the stored answer the same way.
#[tokio::test]
async fn built_in_answers_stream_as_one_piece_and_replays_alike() {
    use todo_chat::{TurnEvent, TurnEvents};
    let rig = rig().await;
    let id = Uuid::new_v4();
    let request = || TurnRequest {
        user: rig.user,
        token: &rig.token,
        conversation: None,
        message: "add call mom friday",
        client_message_id: Some(id),
        zone: "UTC",
    };
    let (events, mut rx) = TurnEvents::channel();
    let turn = rig.service.turn_streamed(request(), events).await.unwrap();
    assert!(turn.error.is_none(), "{:?}", turn.error);
    let mut seen = Vec::new();
    while let Some(e) = rx.recv().await {
        seen.push(e);
    }
    assert_eq!(
        seen,
        [
            TurnEvent::Accepted {
                conversation_id: turn.conversation_id
            },
            TurnEvent::Tool(turn.tool_calls[0].clone()),
            TurnEvent::Delta(turn.response.clone()),
        ]
    );
    assert_eq!(turn.tool_calls.len(), 1);

    let (events, mut rx) = TurnEvents::channel();
    let again = rig.service.turn_streamed(request(), events).await.unwrap();
    assert!(again.replayed);
    let mut replay = Vec::new();
    while let Some(e) = rx.recv().await {
        replay.push(e);
    }
    assert_eq!(replay, seen[1..], "the stored answer, nothing run again");
    assert_eq!(rig.tasks().await.len(), 1, "one task added");
}
