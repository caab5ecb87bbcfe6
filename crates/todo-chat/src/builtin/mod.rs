//! The built-in engine: works with no LLM and no key, so the chatbot answers out of the box.
//! It parses the sentence ([`intent`]), calls the same MCP tools an LLM would, and confirms
//! what it did. Ambiguous references get a question back, never a guess.

pub mod dates;
pub mod intent;

use crate::engine::{ChatEngine, ChatError, Engine, ToolRunner, Turn, to_arguments};
use dates::describe;
use futures::future::BoxFuture;
use intent::{Change, DueFilter, Intent, ListFilter, Status, Target};
use serde_json::{Map, Value, json};
use time::{Date, Duration, Weekday};
use todo_wire::mcp::{AddTaskArgs, CompleteTaskArgs, ListTasksArgs, TaskIdArgs, UpdateTaskArgs};
use todo_wire::{Patch, StatusFilter, TaskKey};

pub struct BuiltinEngine;

pub const HELP: &str = "I can manage your tasks. Try:\n\
• \"add buy milk tomorrow high priority #shop\"\n\
• \"what's left?\", \"what's due today?\", \"show overdue\", \"show #shop\"\n\
• \"done with 3\" or \"mark the milk one done\", \"undo 3\"\n\
• \"rename 3 to buy oat milk\", \"move 3 to friday\", \"make 3 high priority\"\n\
• \"delete 3\"";

impl ChatEngine for BuiltinEngine {
    fn engine(&self) -> Engine {
        Engine::Builtin
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
    let args = |a: Map<String, Value>| Some(Value::Object(a));
    match intent {
        Intent::Add { title, .. } if title.is_empty() => None,
        Intent::Add { .. } => Some(("add_task", args(to_arguments(&add_args(intent)?))?)),
        Intent::List(filter) => {
            Some(("list_tasks", args(to_arguments(&list_args(filter, today)))?))
        }
        Intent::SetDone {
            target: Target::Number(n),
            done,
        } => Some((
            "complete_task",
            args(to_arguments(&complete_args(*n, *done)))?,
        )),
        Intent::Delete {
            target: Target::Number(n),
        } => Some(("delete_task", args(to_arguments(&id_args(*n)))?)),
        Intent::Update {
            target: Target::Number(n),
            change,
        } => Some(("update_task", args(to_arguments(&update_args(*n, change)))?)),
        Intent::SetDone {
            target: Target::Words(w),
            done,
        } => Some((
            "list_tasks",
            args(to_arguments(&search_args(w, done_status(*done), None)))?,
        )),
        Intent::Delete {
            target: Target::Words(w),
        }
        | Intent::Update {
            target: Target::Words(w),
            ..
        } => Some((
            "list_tasks",
            args(to_arguments(&search_args(w, StatusFilter::All, None)))?,
        )),
        Intent::Help | Intent::Greeting | Intent::Unknown => None,
    }
}

/// The tasks a done/undo by words looks among.
fn done_status(done: bool) -> StatusFilter {
    if done {
        StatusFilter::Pending
    } else {
        StatusFilter::Completed
    }
}

fn add_args(intent: &Intent) -> Option<AddTaskArgs> {
    let Intent::Add {
        title,
        due,
        priority,
        tags,
    } = intent
    else {
        return None;
    };
    Some(AddTaskArgs {
        title: title.clone(),
        description: None,
        priority: *priority,
        due: due.map(iso),
        tags: (!tags.is_empty()).then(|| tags.clone()),
    })
}

fn list_args(filter: &ListFilter, today: Date) -> ListTasksArgs {
    let status = match filter.status {
        Status::Pending => StatusFilter::Pending,
        Status::Completed => StatusFilter::Completed,
        Status::All => StatusFilter::All,
    };
    let due_before = match filter.due {
        Some(DueFilter::Today) => Some(iso(today + Duration::days(1))),
        Some(DueFilter::Overdue) => Some(iso(today)),
        Some(DueFilter::ThisWeek) => Some(iso(dates::next_weekday(today, Weekday::Monday))),
        None => None,
    };
    ListTasksArgs {
        status: Some(status),
        priority: filter.priority,
        tag: filter.tag.clone(),
        query: filter.query.clone(),
        due_before,
        limit: None,
    }
}

fn search_args(words: &str, status: StatusFilter, limit: Option<u32>) -> ListTasksArgs {
    ListTasksArgs {
        status: Some(status),
        query: Some(words.to_owned()),
        limit,
        ..ListTasksArgs::default()
    }
}

fn id_args(number: i32) -> TaskIdArgs {
    TaskIdArgs {
        task_id: TaskKey::Number(number),
    }
}

fn complete_args(number: i32, done: bool) -> CompleteTaskArgs {
    CompleteTaskArgs {
        task_id: TaskKey::Number(number),
        completed: done,
    }
}

fn update_args(number: i32, change: &Change) -> UpdateTaskArgs {
    let mut args = UpdateTaskArgs {
        task_id: TaskKey::Number(number),
        title: None,
        description: Patch::Keep,
        priority: None,
        due: Patch::Keep,
        tags: Patch::Keep,
    };
    match change {
        Change::Title(t) => args.title = Some(t.clone()),
        Change::Due(d) => args.due = Patch::from(d.map(iso)),
        Change::Priority(p) => args.priority = Some(*p),
        Change::AddTags(tags) => args.tags = Patch::Set(tags.clone()),
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
            let Some(args) = add_args(intent) else {
                return Ok(HELP.to_owned());
            };
            let outcome = tools.call_with("add_task", &args).await?;
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
            let status = done_status(*done);
            let Some(number) = resolve(target, status, tools, today).await? else {
                return resolve_reply(target, status, tools, today).await;
            };
            let outcome = tools
                .call_with("complete_task", &complete_args(number, *done))
                .await?;
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
            let Some(number) = resolve(target, StatusFilter::All, tools, today).await? else {
                return resolve_reply(target, StatusFilter::All, tools, today).await;
            };
            let outcome = tools.call_with("delete_task", &id_args(number)).await?;
            if outcome.is_error {
                return Ok(not_found_or(&outcome.value, number));
            }
            let title = outcome.value["task"]["title"].as_str().unwrap_or_default();
            Ok(format!("Deleted #{number} “{title}”."))
        }
        Intent::Update { target, change } => {
            let Some(number) = resolve(target, StatusFilter::All, tools, today).await? else {
                return resolve_reply(target, StatusFilter::All, tools, today).await;
            };
            let mut args = update_args(number, change);
            if let Change::AddTags(new_tags) = change {
                // Tags are replaced by update_task: merge with the current ones.
                let current = tools.call_with("get_task", &id_args(number)).await?;
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
                args.tags = Patch::Set(tags);
            }
            let outcome = tools.call_with("update_task", &args).await?;
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

async fn list(
    filter: &ListFilter,
    tools: &ToolRunner<'_>,
    today: Date,
) -> Result<String, ChatError> {
    let outcome = tools
        .call_with("list_tasks", &list_args(filter, today))
        .await?;
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
    status: StatusFilter,
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
    status: StatusFilter,
    tools: &ToolRunner<'_>,
) -> Result<Vec<Value>, ChatError> {
    let phrase = tools
        .call_with("list_tasks", &search_args(words, status, Some(50)))
        .await?;
    let mut found: Vec<Value> = phrase.value["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if found.is_empty() {
        let all = tools
            .call_with(
                "list_tasks",
                &ListTasksArgs {
                    status: Some(status),
                    limit: Some(200),
                    ..ListTasksArgs::default()
                },
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
    status: StatusFilter,
    tools: &ToolRunner<'_>,
    today: Date,
) -> Result<String, ChatError> {
    let Target::Words(words) = target else {
        return Ok("Which task? Say its number, e.g. \"done with 3\".".to_owned());
    };
    let matches = candidates(words, status, tools).await?;
    if matches.is_empty() {
        let which = match status {
            StatusFilter::Pending => "pending task",
            StatusFilter::Completed => "completed task",
            StatusFilter::All => "task",
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
        StatusFilter::Pending => format!("done with {n}\"."),
        StatusFilter::Completed => format!("undo {n}\"."),
        StatusFilter::All => format!("delete {n}\" or \"rename {n} to ...\"."),
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
