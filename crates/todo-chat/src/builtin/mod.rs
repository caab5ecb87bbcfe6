//! The built-in engine: works with no LLM and no key, so the chatbot answers out of the box.
//! It parses the sentence ([`intent`]), calls the same MCP tools an LLM would, and confirms
//! what it did. Ambiguous references get a question back, never a guess.

pub mod dates;
pub mod intent;

use crate::engine::{ChatEngine, ChatError, ToolRunner, Turn};
use dates::describe;
use futures::future::BoxFuture;
use intent::{Change, DueFilter, Intent, ListFilter, Status, Target};
use serde_json::{Map, Value, json};
use time::{Date, Duration, Weekday};

pub struct BuiltinEngine;

pub const HELP: &str = "I can manage your tasks. Try:\n\
• \"add buy milk tomorrow high priority #shop\"\n\
• \"what's left?\", \"what's due today?\", \"show overdue\", \"show #shop\"\n\
• \"done with 3\" or \"mark the milk one done\", \"undo 3\"\n\
• \"rename 3 to buy oat milk\", \"move 3 to friday\", \"make 3 high priority\"\n\
• \"delete 3\"";

impl ChatEngine for BuiltinEngine {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn respond<'a>(&'a self, turn: Turn<'a>) -> BoxFuture<'a, Result<String, ChatError>> {
        Box::pin(async move {
            let intent = intent::parse(turn.message, turn.today);
            execute(&intent, turn.tools, turn.today).await
        })
    }
}

/// The first tool call an intent leads to (before any follow-up), for tests and previews.
pub fn planned_call(intent: &Intent, today: Date) -> Option<(&'static str, Value)> {
    match intent {
        Intent::Add { title, .. } if title.is_empty() => None,
        Intent::Add { .. } => Some(("add_task", Value::Object(add_args(intent)))),
        Intent::List(filter) => Some(("list_tasks", Value::Object(list_args(filter, today)))),
        Intent::SetDone {
            target: Target::Number(n),
            done,
        } => Some((
            "complete_task",
            if *done {
                json!({"task_id": n})
            } else {
                json!({"task_id": n, "completed": false})
            },
        )),
        Intent::Delete {
            target: Target::Number(n),
        } => Some(("delete_task", json!({"task_id": n}))),
        Intent::Update {
            target: Target::Number(n),
            change,
        } => Some(("update_task", Value::Object(update_args(*n, change)))),
        Intent::SetDone {
            target: Target::Words(w),
            done,
        } => Some((
            "list_tasks",
            json!({"query": w, "status": if *done { "pending" } else { "completed" }}),
        )),
        Intent::Delete {
            target: Target::Words(w),
        }
        | Intent::Update {
            target: Target::Words(w),
            ..
        } => Some(("list_tasks", json!({"query": w, "status": "all"}))),
        Intent::Help | Intent::Greeting | Intent::Unknown => None,
    }
}

fn add_args(intent: &Intent) -> Map<String, Value> {
    let mut args = Map::new();
    if let Intent::Add {
        title,
        due,
        priority,
        tags,
    } = intent
    {
        args.insert("title".into(), json!(title));
        if let Some(d) = due {
            args.insert("due".into(), json!(iso(*d)));
        }
        if let Some(p) = priority {
            args.insert("priority".into(), json!(p.as_str()));
        }
        if !tags.is_empty() {
            args.insert("tags".into(), json!(tags));
        }
    }
    args
}

fn list_args(filter: &ListFilter, today: Date) -> Map<String, Value> {
    let mut args = Map::new();
    let status = match filter.status {
        Status::Pending => "pending",
        Status::Completed => "completed",
        Status::All => "all",
    };
    args.insert("status".into(), json!(status));
    match filter.due {
        Some(DueFilter::Today) => {
            args.insert("due_before".into(), json!(iso(today + Duration::days(1))));
        }
        Some(DueFilter::Overdue) => {
            args.insert("due_before".into(), json!(iso(today)));
        }
        Some(DueFilter::ThisWeek) => {
            args.insert(
                "due_before".into(),
                json!(iso(dates::next_weekday(today, Weekday::Monday))),
            );
        }
        None => {}
    }
    if let Some(tag) = &filter.tag {
        args.insert("tag".into(), json!(tag));
    }
    if let Some(p) = filter.priority {
        args.insert("priority".into(), json!(p.as_str()));
    }
    if let Some(q) = &filter.query {
        args.insert("query".into(), json!(q));
    }
    args
}

fn update_args(number: i32, change: &Change) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("task_id".into(), json!(number));
    match change {
        Change::Title(t) => args.insert("title".into(), json!(t)),
        Change::Due(Some(d)) => args.insert("due".into(), json!(iso(*d))),
        Change::Due(None) => args.insert("due".into(), Value::Null),
        Change::Priority(p) => args.insert("priority".into(), json!(p.as_str())),
        Change::AddTags(tags) => args.insert("tags".into(), json!(tags)),
    };
    args
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Carries out an intent and phrases the reply.
pub async fn execute(
    intent: &Intent,
    tools: &ToolRunner<'_>,
    today: Date,
) -> Result<String, ChatError> {
    match intent {
        Intent::Help => Ok(HELP.to_owned()),
        Intent::Greeting => Ok(
            "Hi! Tell me what to do, e.g. \"add buy milk tomorrow\" or \"what's left?\"."
                .to_owned(),
        ),
        Intent::Unknown => Ok(format!("Sorry, I didn't understand that. {HELP}")),
        Intent::Add { title, .. } if title.is_empty() => {
            Ok("What should the task be? For example: \"add buy milk tomorrow\".".to_owned())
        }
        Intent::Add { .. } => {
            let outcome = tools.call("add_task", add_args(intent)).await?;
            if outcome.is_error {
                return Ok(format!(
                    "I couldn't add that: {}",
                    error_message(&outcome.value)
                ));
            }
            let task = &outcome.value["task"];
            Ok(format!("Added {}.", describe_task(task, today)))
        }
        Intent::List(filter) => list(filter, tools, today).await,
        Intent::SetDone { target, done } => {
            let status = if *done { "pending" } else { "completed" };
            let Some(number) = resolve(target, status, tools, today).await? else {
                return resolve_reply(target, status, tools, today).await;
            };
            let mut args = Map::new();
            args.insert("task_id".into(), json!(number));
            if !done {
                args.insert("completed".into(), json!(false));
            }
            let outcome = tools.call("complete_task", args).await?;
            if outcome.is_error {
                return Ok(not_found_or(&outcome.value, number));
            }
            let title = outcome.value["task"]["title"].as_str().unwrap_or_default();
            Ok(if *done {
                format!("Marked #{number} “{title}” as done. ✓")
            } else {
                format!("Reopened #{number} “{title}”.")
            })
        }
        Intent::Delete { target } => {
            let Some(number) = resolve(target, "all", tools, today).await? else {
                return resolve_reply(target, "all", tools, today).await;
            };
            let outcome = tools
                .call("delete_task", json_map(json!({"task_id": number})))
                .await?;
            if outcome.is_error {
                return Ok(not_found_or(&outcome.value, number));
            }
            let title = outcome.value["task"]["title"].as_str().unwrap_or_default();
            Ok(format!("Deleted #{number} “{title}”."))
        }
        Intent::Update { target, change } => {
            let Some(number) = resolve(target, "all", tools, today).await? else {
                return resolve_reply(target, "all", tools, today).await;
            };
            let mut args = update_args(number, change);
            if let Change::AddTags(new_tags) = change {
                // Tags are replaced by update_task: merge with the current ones.
                let current = tools
                    .call("get_task", json_map(json!({"task_id": number})))
                    .await?;
                if current.is_error {
                    return Ok(not_found_or(&current.value, number));
                }
                let mut tags: Vec<String> = current.value["task"]["tags"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                tags.extend(new_tags.iter().cloned());
                args.insert("tags".into(), json!(tags));
            }
            let outcome = tools.call("update_task", args).await?;
            if outcome.is_error {
                return Ok(not_found_or(&outcome.value, number));
            }
            Ok(format!(
                "Updated: {}.",
                describe_task(&outcome.value["task"], today)
            ))
        }
    }
}

fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

async fn list(
    filter: &ListFilter,
    tools: &ToolRunner<'_>,
    today: Date,
) -> Result<String, ChatError> {
    let outcome = tools.call("list_tasks", list_args(filter, today)).await?;
    if outcome.is_error {
        return Ok(format!(
            "I couldn't list your tasks: {}",
            error_message(&outcome.value)
        ));
    }
    let mut tasks: Vec<&Value> = outcome.value["tasks"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if filter.due == Some(DueFilter::Today) {
        // due_before tomorrow also returns overdue ones; "today" means today.
        tasks.retain(|t| due_date(t) == Some(today));
    }
    let what = match (filter.status, filter.due) {
        (_, Some(DueFilter::Today)) => "due today",
        (_, Some(DueFilter::Overdue)) => "overdue",
        (_, Some(DueFilter::ThisWeek)) => "due this week",
        (Status::Completed, None) => "completed",
        (Status::All, None) => "in total",
        (Status::Pending, None) => "pending",
    };
    if tasks.is_empty() {
        return Ok(match filter.status {
            Status::Pending
                if filter.due.is_none()
                    && filter.tag.is_none()
                    && filter.priority.is_none()
                    && filter.query.is_none() =>
            {
                "You're all caught up: nothing pending. Add one with \"add ...\".".to_owned()
            }
            _ => format!("No tasks {what}{}.", filter_suffix(filter)),
        });
    }
    let total = outcome.value["total"]
        .as_u64()
        .unwrap_or(tasks.len() as u64);
    let count = if filter.due == Some(DueFilter::Today) {
        tasks.len() as u64
    } else {
        total
    };
    let noun = if count == 1 { "task" } else { "tasks" };
    let mut reply = format!("You have {count} {noun} {what}{}:", filter_suffix(filter));
    for task in &tasks {
        reply.push_str("\n• ");
        reply.push_str(&describe_task(task, today));
    }
    if count > tasks.len() as u64 {
        reply.push_str(&format!("\n…and {} more.", count - tasks.len() as u64));
    }
    Ok(reply)
}

fn filter_suffix(filter: &ListFilter) -> String {
    let mut s = String::new();
    if let Some(tag) = &filter.tag {
        s.push_str(&format!(" tagged #{tag}"));
    }
    if let Some(p) = filter.priority {
        s.push_str(&format!(" with {} priority", p.as_str()));
    }
    if let Some(q) = &filter.query {
        s.push_str(&format!(" about “{q}”"));
    }
    s
}

/// The task number a target names, or `None` when words matched zero or several tasks (the
/// caller then explains with [`resolve_reply`]).
async fn resolve(
    target: &Target,
    status: &str,
    tools: &ToolRunner<'_>,
    _today: Date,
) -> Result<Option<i32>, ChatError> {
    match target {
        Target::Number(n) => Ok(Some(*n)),
        Target::Words(words) => {
            let matches = candidates(words, status, tools).await?;
            Ok(match matches.as_slice() {
                [only] => only["number"].as_i64().and_then(|n| i32::try_from(n).ok()),
                _ => None,
            })
        }
    }
}

/// Tasks whose title matches `words`: the phrase as a whole, else every word; an exact title
/// match wins over partial ones.
async fn candidates(
    words: &str,
    status: &str,
    tools: &ToolRunner<'_>,
) -> Result<Vec<Value>, ChatError> {
    let phrase = tools
        .call(
            "list_tasks",
            json_map(json!({"query": words, "status": status, "limit": 50})),
        )
        .await?;
    let mut found: Vec<Value> = phrase.value["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if found.is_empty() {
        let all = tools
            .call(
                "list_tasks",
                json_map(json!({"status": status, "limit": 200})),
            )
            .await?;
        let wanted: Vec<String> = words
            .to_lowercase()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        found = all.value["tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|t| {
                        let title = t["title"].as_str().unwrap_or_default().to_lowercase();
                        wanted.iter().all(|w| title.contains(w.as_str()))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
    }
    let exact: Vec<Value> = found
        .iter()
        .filter(|t| {
            t["title"]
                .as_str()
                .is_some_and(|title| title.eq_ignore_ascii_case(words))
        })
        .cloned()
        .collect();
    Ok(if exact.len() == 1 { exact } else { found })
}

async fn resolve_reply(
    target: &Target,
    status: &str,
    tools: &ToolRunner<'_>,
    today: Date,
) -> Result<String, ChatError> {
    let Target::Words(words) = target else {
        return Ok("Which task? Say its number, e.g. \"done with 3\".".to_owned());
    };
    let matches = candidates(words, status, tools).await?;
    if matches.is_empty() {
        let which = match status {
            "pending" => "pending task",
            "completed" => "completed task",
            _ => "task",
        };
        return Ok(format!(
            "I couldn't find a {which} matching “{words}”. Say \"what's left?\" to see your tasks."
        ));
    }
    let mut reply = format!("Several tasks match “{words}”. Which one do you mean?");
    for task in &matches {
        reply.push_str("\n• ");
        reply.push_str(&describe_task(task, today));
    }
    reply.push_str("\nSay it with the number, e.g. \"");
    let n = matches[0]["number"].as_i64().unwrap_or(1);
    reply.push_str(&match status {
        "pending" => format!("done with {n}\"."),
        "completed" => format!("undo {n}\"."),
        _ => format!("delete {n}\" or \"rename {n} to ...\"."),
    });
    Ok(reply)
}

fn due_date(task: &Value) -> Option<Date> {
    let raw = task["due_at"].as_str()?;
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.date())
}

/// `#3 “buy milk” (due tomorrow, high priority, #shop)`
pub fn describe_task(task: &Value, today: Date) -> String {
    let mut s = format!(
        "#{} “{}”",
        task["number"].as_i64().unwrap_or(0),
        task["title"].as_str().unwrap_or_default()
    );
    let mut notes = Vec::new();
    if task["completed"] == json!(true) {
        notes.push("done".to_owned());
    }
    if let Some(d) = due_date(task) {
        let overdue = d < today && task["completed"] != json!(true);
        notes.push(if overdue {
            format!("overdue since {}", describe(d, today))
        } else {
            format!("due {}", describe(d, today))
        });
    }
    match task["priority"].as_str() {
        Some("high") => notes.push("high priority".into()),
        Some("low") => notes.push("low priority".into()),
        _ => {}
    }
    if let Some(tags) = task["tags"].as_array() {
        notes.extend(
            tags.iter()
                .filter_map(|t| t.as_str())
                .map(|t| format!("#{t}")),
        );
    }
    if !notes.is_empty() {
        s.push_str(&format!(" ({})", notes.join(", ")));
    }
    s
}

fn error_message(value: &Value) -> String {
    value["error"]["message"]
        .as_str()
        .unwrap_or("unknown error")
        .to_owned()
}

fn not_found_or(value: &Value, number: i32) -> String {
    if value["error"]["code"] == "TASK_NOT_FOUND" {
        format!(
            "There's no task #{number}. Say \"what's left?\" to see your tasks and their numbers."
        )
    } else {
        format!("That didn't work: {}", error_message(value))
    }
}
