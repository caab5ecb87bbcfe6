//! The built-in engine: works with no LLM and no key, so the chatbot answers out of the box.
//! It parses the sentence ([`intent`]), calls the same MCP tools an LLM would, and confirms
//! what it did.
//!
//! The rule above all: never report success for something the user did not mean. Ambiguous
//! references get a question with the candidates; statements ("I bought the groceries") and
//! bulk changes are confirmed first; what matches nothing is said so, briefly. The open
//! question and the tasks the conversation is about ("delete it", "the second one") are
//! [`ChatState`], stored with the conversation, so "yes" works after a restart or on another
//! replica.

pub mod dates;
pub mod intent;

use crate::clock::UserClock;
use crate::engine::{ChatEngine, ChatError, Engine, ToolRunner, Turn, to_arguments};
use dates::{Due, describe};
use futures::future::BoxFuture;
use intent::{Answer, Change, DueFilter, Intent, ListFilter, Status, Target};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::{Date, OffsetDateTime, Weekday};
use todo_wire::mcp::{AddTaskArgs, CompleteTaskArgs, ListTasksArgs, TaskIdArgs, UpdateTaskArgs};
use todo_wire::{Patch, StatusFilter, TaskKey};

pub struct BuiltinEngine;

pub const HELP: &str = "I can manage your tasks. Try:\n\
• \"add buy milk tomorrow at 5pm high priority #shop\"\n\
• \"what's left?\", \"what's due tomorrow?\", \"anything urgent?\", \"show my work tasks\", \"how many tasks do I have?\"\n\
• \"done with 3\", \"I bought the milk\", \"undo 3\"\n\
• \"rename 3 to buy oat milk\", \"move 3 to friday\", \"make 3 high priority\", \"add the tag home to 3\"\n\
• \"delete 3\", \"remove all completed tasks\"";

/// The one line shown when a message is not understood (the full list is on "help").
pub const NOT_UNDERSTOOD: &str = "Sorry, I didn't understand that. Try \"add buy milk tomorrow\" or \"what's left?\", or say \"help\".";

/// Most tasks a question offers or a conversation remembers.
const FOCUS_MAX: usize = 20;

/// A task as the conversation remembers it: its number, and its title when shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    pub number: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
}

/// What to do to a task once the user has said which, or said yes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Done(bool),
    Delete,
    Update(Change),
    /// Add the task the user's words described (no task to apply it to).
    Add {
        title: String,
        due: Option<Due>,
        priority: Option<todo_store::Priority>,
        tags: Vec<String>,
    },
}

/// The engine's open question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Question {
    /// "yes" applies the action to every task.
    Confirm { action: Action, tasks: Vec<Shown> },
    /// A number or "the second one" picks one of the options.
    Choose { action: Action, options: Vec<Shown> },
}

/// What a conversation carries from turn to turn (stored as JSON with it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Question>,
    /// The tasks last shown or acted on, in order ("it", "the second one").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub focus: Vec<Shown>,
}

impl ChatState {
    /// The state stored with a conversation; anything unreadable (an older shape) is none.
    pub fn from_value(value: Option<&Value>) -> ChatState {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn to_value(&self) -> Option<Value> {
        (self != &ChatState::default())
            .then(|| serde_json::to_value(self).ok())
            .flatten()
    }
}

impl ChatEngine for BuiltinEngine {
    fn engine(&self) -> Engine {
        Engine::Builtin
    }

    fn respond<'a>(&'a self, turn: Turn<'a>) -> BoxFuture<'a, Result<String, ChatError>> {
        Box::pin(async move {
            let mut state = ChatState::from_value(turn.state.get().as_ref());
            let intent = intent::parse(turn.message, turn.clock);
            let mut ctx = Ctx {
                tools: turn.tools,
                clock: turn.clock,
                state: &mut state,
            };
            let reply = ctx.run(&intent).await;
            turn.state.set(state.to_value());
            reply
        })
    }
}

/// The first tool call an intent leads to (before any follow-up), for tests and previews.
/// `None` when it calls nothing, or when what it calls depends on the conversation.
pub fn planned_call(intent: &Intent, clock: &UserClock) -> Option<(&'static str, Value)> {
    let args = |a: Map<String, Value>| Some(Value::Object(a));
    match intent {
        Intent::Add { title, .. } if title.is_empty() => None,
        Intent::Add { .. } => Some(("add_task", args(to_arguments(&add_args(intent, clock)?))?)),
        Intent::List(filter) => {
            Some(("list_tasks", args(to_arguments(&list_args(filter, clock)))?))
        }
        Intent::Count(filter) => Some((
            "list_tasks",
            args(to_arguments(&count_args(filter, clock)))?,
        )),
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
            change: Change::AddTags(_),
        } => Some(("get_task", args(to_arguments(&id_args(*n)))?)),
        Intent::Update {
            target: Target::Number(n),
            change,
        } => Some((
            "update_task",
            args(to_arguments(&update_args(*n, change, clock)))?,
        )),
        Intent::SetDone {
            target: Target::Words(w),
            done,
        } => Some((
            "list_tasks",
            args(to_arguments(&search_args(w, done_status(*done))))?,
        )),
        Intent::Claim { words } => Some((
            "list_tasks",
            args(to_arguments(&search_args(words, StatusFilter::Pending)))?,
        )),
        Intent::Delete {
            target: Target::Words(w),
        }
        | Intent::Update {
            target: Target::Words(w),
            ..
        } => Some((
            "list_tasks",
            args(to_arguments(&search_args(w, StatusFilter::All)))?,
        )),
        Intent::DeleteAll { status } => {
            Some(("list_tasks", args(to_arguments(&bulk_args(*status)))?))
        }
        Intent::Several(intents) => intents.first().and_then(|i| planned_call(i, clock)),
        Intent::SetDone { .. }
        | Intent::Delete { .. }
        | Intent::Update { .. }
        | Intent::Answer(_)
        | Intent::Help
        | Intent::Greeting
        | Intent::Thanks
        | Intent::MaybeAdd { .. }
        | Intent::OffTopic
        | Intent::Unknown => None,
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

/// A due date as the instant the tools store: a time as that local time, a day alone as the
/// start of that local day, with the zone's offset written out.
pub fn due_text(due: &Due, clock: &UserClock) -> String {
    let at = match due.time {
        Some(t) => clock.instant(due.date, t),
        None => clock.start_of_day(due.date),
    };
    clock.rfc3339(at)
}

fn add_args(intent: &Intent, clock: &UserClock) -> Option<AddTaskArgs> {
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
        due: due.as_ref().map(|d| due_text(d, clock)),
        tags: (!tags.is_empty()).then(|| tags.clone()),
    })
}

fn status_filter(status: Status) -> StatusFilter {
    match status {
        Status::Pending => StatusFilter::Pending,
        Status::Completed => StatusFilter::Completed,
        Status::All => StatusFilter::All,
    }
}

fn list_args(filter: &ListFilter, clock: &UserClock) -> ListTasksArgs {
    let today = clock.today();
    let day_start = |d: Date| Some(clock.rfc3339(clock.start_of_day(d)));
    let due_before = match filter.due {
        // No next day after the last date `time` holds: no upper bound then (the cut below
        // still keeps only that day).
        Some(DueFilter::Today) => today.next_day().and_then(day_start),
        Some(DueFilter::On(d)) => d.next_day().and_then(day_start),
        Some(DueFilter::Overdue) => day_start(today),
        Some(DueFilter::ThisWeek) => day_start(dates::next_weekday(today, Weekday::Monday)),
        None => None,
    };
    ListTasksArgs {
        status: Some(status_filter(filter.status)),
        priority: filter.priority,
        tag: filter.tag.clone(),
        query: filter.query.clone(),
        // The engine's day filters become due_before plus a cut here (see `DueFilter`).
        due: None,
        due_before,
        // A one-day filter is cut to that day here, so fetch enough to cut from.
        limit: matches!(filter.due, Some(DueFilter::Today | DueFilter::On(_))).then_some(200),
    }
}

/// How many tasks a list has: exact, or (past the API's count cap) a floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Count {
    n: u64,
    more: bool,
}

impl Count {
    fn noun(self) -> &'static str {
        if self.n == 1 && !self.more {
            "task"
        } else {
            "tasks"
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.more {
            write!(f, "more than {}", self.n)
        } else {
            write!(f, "{}", self.n)
        }
    }
}

/// A count needs only the total, unless it is of one day (counted here after the cut).
fn count_args(filter: &ListFilter, clock: &UserClock) -> ListTasksArgs {
    let mut args = list_args(filter, clock);
    if args.limit.is_none() {
        args.limit = Some(1);
    }
    args
}

fn bulk_args(status: Status) -> ListTasksArgs {
    ListTasksArgs {
        status: Some(status_filter(status)),
        limit: Some(200),
        ..ListTasksArgs::default()
    }
}

/// How many matches a search by words fetches: enough to offer, never the whole list.
const SEARCH_LIMIT: u32 = 10;

fn search_args(words: &str, status: StatusFilter) -> ListTasksArgs {
    ListTasksArgs {
        status: Some(status),
        query: Some(words.to_owned()),
        limit: Some(SEARCH_LIMIT),
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

fn update_args(number: i32, change: &Change, clock: &UserClock) -> UpdateTaskArgs {
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
        Change::Due(d) => args.due = Patch::from(d.as_ref().map(|d| due_text(d, clock))),
        Change::Priority(p) => args.priority = Some(*p),
        Change::AddTags(tags) => args.tags = Patch::Set(tags.clone()),
    };
    args
}

fn shown(task: &Value) -> Option<Shown> {
    Some(Shown {
        number: task["number"]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())?,
        title: task["title"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Which task a target means, after at most two small searches.
enum Resolved {
    One(Shown),
    Many(Vec<Shown>),
    /// Nothing matched; the reply says so.
    None(String),
}

/// One turn's work: the tools, the user's clock, and the conversation's state.
struct Ctx<'t, 'a> {
    tools: &'t ToolRunner<'a>,
    clock: &'t UserClock,
    state: &'t mut ChatState,
}

impl Ctx<'_, '_> {
    async fn run(&mut self, intent: &Intent) -> Result<String, ChatError> {
        // Any new message settles the open question: answered now, or dropped.
        let pending = self.state.pending.take();
        match intent {
            Intent::Answer(answer) => self.answer(*answer, pending).await,
            Intent::Several(intents) => {
                let mut replies = Vec::new();
                for intent in intents {
                    replies.push(Box::pin(self.run(intent)).await?);
                    if self.state.pending.is_some() {
                        // A question stops the rest: the user answers it first.
                        if intents.len() > replies.len() {
                            replies.push(
                                "(I'll wait for your answer before doing the rest.)".to_owned(),
                            );
                        }
                        break;
                    }
                }
                Ok(replies.join("\n"))
            }
            other => self.execute(other).await,
        }
    }

    async fn answer(
        &mut self,
        answer: Answer,
        pending: Option<Question>,
    ) -> Result<String, ChatError> {
        match (answer, pending) {
            (
                Answer::Yes,
                Some(Question::Confirm {
                    action:
                        Action::Add {
                            title,
                            due,
                            priority,
                            tags,
                        },
                    ..
                }),
            ) => {
                let intent = Intent::Add {
                    title,
                    due,
                    priority,
                    tags,
                };
                self.execute(&intent).await
            }
            (Answer::Yes, Some(Question::Confirm { action, tasks })) => {
                self.apply_all(&action, &tasks).await
            }
            (Answer::No, Some(_)) => Ok("OK, I left everything as it was.".to_owned()),
            (Answer::Number(_) | Answer::Pick(_), Some(Question::Confirm { action, tasks })) => {
                // Keep the question open: a number does not answer a yes/no.
                let reply = "Please answer yes or no.".to_owned();
                self.state.pending = Some(Question::Confirm { action, tasks });
                Ok(reply)
            }
            (Answer::Yes, Some(Question::Choose { action, options })) => {
                let reply = "Which one? Say its number.".to_owned();
                self.state.pending = Some(Question::Choose { action, options });
                Ok(reply)
            }
            (pick @ (Answer::Number(_) | Answer::Pick(_)), Some(Question::Choose { action, options })) => {
                match pick_from(pick, &options) {
                    Some(task) => self.apply_one(&action, task.number).await,
                    None => {
                        let reply = format!(
                            "That's not one of the {} I offered. Say one of: {}.",
                            options.len(),
                            options.iter().map(|o| format!("#{}", o.number)).collect::<Vec<_>>().join(", ")
                        );
                        self.state.pending = Some(Question::Choose { action, options });
                        Ok(reply)
                    }
                }
            }
            (Answer::Yes | Answer::No, None) => Ok(
                "There's nothing waiting for a yes or no. Tell me what to do, e.g. \"what's left?\"."
                    .to_owned(),
            ),
            (Answer::Number(n), None) => Ok(format!(
                "What should I do with #{n}? For example \"done with {n}\" or \"delete {n}\"."
            )),
            (Answer::Pick(k), None) => match pick_from(Answer::Pick(k), &self.state.focus) {
                Some(task) => Ok(format!(
                    "What should I do with #{} “{}”? For example \"done with {}\".",
                    task.number, task.title, task.number
                )),
                None => Ok("Which task do you mean? Say its number.".to_owned()),
            },
        }
    }

    /// Carries out an intent and phrases the reply.
    async fn execute(&mut self, intent: &Intent) -> Result<String, ChatError> {
        let tools = self.tools;
        let clock = self.clock;
        match intent {
            Intent::Help => Ok(HELP.to_owned()),
            Intent::Greeting => Ok(
                "Hi! Tell me what to do, e.g. \"add buy milk tomorrow\" or \"what's left?\"."
                    .to_owned(),
            ),
            Intent::Thanks => Ok("You're welcome!".to_owned()),
            Intent::MaybeAdd {
                title,
                due,
                priority,
                tags,
            } => {
                let mut what = format!("“{title}”");
                let mut notes = Vec::new();
                if let Some(d) = due {
                    let mut when = describe(d.date, clock.today());
                    if let Some(t) = d.time {
                        when.push_str(&format!(" {:02}:{:02}", t.hour(), t.minute()));
                    }
                    notes.push(format!("due {when}"));
                }
                if let Some(p) = priority {
                    notes.push(format!("{} priority", p.as_str()));
                }
                notes.extend(tags.iter().map(|t| format!("#{t}")));
                if !notes.is_empty() {
                    what.push_str(&format!(" ({})", notes.join(", ")));
                }
                self.state.pending = Some(Question::Confirm {
                    action: Action::Add {
                        title: title.clone(),
                        due: *due,
                        priority: *priority,
                        tags: tags.clone(),
                    },
                    tasks: Vec::new(),
                });
                Ok(format!("Should I add {what} as a task? (yes/no)"))
            }
            Intent::OffTopic => {
                Ok("I can only help with your tasks, not that. Try \"what's left?\".".to_owned())
            }
            Intent::Unknown | Intent::Answer(_) | Intent::Several(_) => {
                Ok(NOT_UNDERSTOOD.to_owned())
            }
            Intent::Add { title, .. } if title.is_empty() => {
                Ok("What should the task be? For example: \"add buy milk tomorrow\".".to_owned())
            }
            Intent::Add { .. } => {
                let Some(args) = add_args(intent, clock) else {
                    return Ok(NOT_UNDERSTOOD.to_owned());
                };
                let outcome = tools.call_with("add_task", &args).await?;
                if outcome.is_error {
                    return Ok(format!(
                        "I couldn't add that: {}",
                        error_message(&outcome.value)
                    ));
                }
                let task = &outcome.value["task"];
                self.state.focus = shown(task).into_iter().collect();
                Ok(format!("Added {}.", describe_task(task, clock)))
            }
            Intent::List(filter) => self.list(filter).await,
            Intent::Count(filter) => self.count(filter).await,
            Intent::SetDone { target, done } => {
                self.on_target(target, done_status(*done), Action::Done(*done))
                    .await
            }
            Intent::Delete { target } => {
                self.on_target(target, StatusFilter::All, Action::Delete)
                    .await
            }
            Intent::Update { target, change } => {
                self.on_target(target, StatusFilter::All, Action::Update(change.clone()))
                    .await
            }
            Intent::Claim { words } => match self.search(words, StatusFilter::Pending).await? {
                Resolved::One(task) => {
                    let reply = format!(
                        "Do you want me to mark #{} “{}” as done? (yes/no)",
                        task.number, task.title
                    );
                    self.state.focus = vec![task.clone()];
                    self.state.pending = Some(Question::Confirm {
                        action: Action::Done(true),
                        tasks: vec![task],
                    });
                    Ok(reply)
                }
                Resolved::Many(options) => Ok(self.choose(
                    Action::Done(true),
                    options,
                    "Nice! Which task did that finish?",
                )),
                Resolved::None(_) => Ok(format!(
                    "Nice! I couldn't find a pending task about “{words}”, so nothing was changed."
                )),
            },
            Intent::DeleteAll { status } => {
                let outcome = tools.call_with("list_tasks", &bulk_args(*status)).await?;
                if outcome.is_error {
                    return Ok(format!(
                        "I couldn't look at your tasks: {}",
                        error_message(&outcome.value)
                    ));
                }
                let tasks: Vec<Shown> = outcome.value["tasks"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(shown)
                            .map(|s| Shown {
                                title: String::new(),
                                ..s
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let total = outcome.value["total"]
                    .as_u64()
                    .unwrap_or(tasks.len() as u64);
                let what = match status {
                    Status::Completed => "completed ",
                    _ => "",
                };
                if tasks.is_empty() {
                    return Ok(format!(
                        "You have no {what}tasks, so there is nothing to delete."
                    ));
                }
                let noun = if tasks.len() == 1 { "task" } else { "tasks" };
                let mut reply = format!(
                    "Delete {} {what}{noun}? This can't be undone. (yes/no)",
                    tasks.len()
                );
                if total > tasks.len() as u64 {
                    reply.push_str(&format!(
                        " (You have {total}; I delete at most {} at a time.)",
                        tasks.len()
                    ));
                }
                self.state.pending = Some(Question::Confirm {
                    action: Action::Delete,
                    tasks,
                });
                Ok(reply)
            }
        }
    }

    /// Acts on the task a target names, or asks which one.
    async fn on_target(
        &mut self,
        target: &Target,
        status: StatusFilter,
        action: Action,
    ) -> Result<String, ChatError> {
        let resolved = match target {
            Target::Number(n) => Resolved::One(Shown {
                number: *n,
                title: String::new(),
            }),
            Target::Words(words) => self.search(words, status).await?,
            Target::It => match self.state.focus.as_slice() {
                [one] => Resolved::One(one.clone()),
                [] => Resolved::None(
                    "Which task do you mean? Say its number, e.g. \"delete 3\".".to_owned(),
                ),
                many => Resolved::Many(many.to_vec()),
            },
            Target::Ordinal(k) => match pick_from(Answer::Pick(*k), &self.state.focus) {
                Some(task) => Resolved::One(task.clone()),
                None => Resolved::None(
                    "I'm not sure which task you mean. Say its number, e.g. \"delete 3\"."
                        .to_owned(),
                ),
            },
        };
        match resolved {
            Resolved::One(task) => self.apply_one(&action, task.number).await,
            Resolved::Many(options) => Ok(self.choose(action, options, "Which one do you mean?")),
            Resolved::None(reply) => Ok(reply),
        }
    }

    /// Asks which of `options` the user means, and remembers the question.
    fn choose(&mut self, action: Action, mut options: Vec<Shown>, question: &str) -> String {
        options.truncate(FOCUS_MAX);
        let mut reply = question.to_owned();
        for (i, task) in options.iter().enumerate() {
            reply.push_str(&format!("\n{}. #{} “{}”", i + 1, task.number, task.title));
        }
        reply.push_str("\nSay the task number, or \"the first one\".");
        self.state.focus = options.clone();
        self.state.pending = Some(Question::Choose { action, options });
        reply
    }

    /// Tasks whose title matches `words`: one search for the phrase; if it finds nothing and
    /// there are several words, one more for the most telling word, kept when every word
    /// appears. Each search fetches a few matches, never the whole list.
    async fn search(&mut self, words: &str, status: StatusFilter) -> Result<Resolved, ChatError> {
        let tools = self.tools;
        let phrase = tools
            .call_with("list_tasks", &search_args(words, status))
            .await?;
        let mut found: Vec<Value> = phrase.value["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let wanted: Vec<String> = words
            .to_lowercase()
            .split_whitespace()
            .filter(|w| !matches!(*w, "the" | "a" | "an" | "my" | "to" | "of" | "for" | "and"))
            .map(str::to_owned)
            .collect();
        if found.is_empty() && wanted.len() > 1 {
            let longest = wanted
                .iter()
                .max_by_key(|w| w.len())
                .cloned()
                .unwrap_or_default();
            let some = tools
                .call_with("list_tasks", &search_args(&longest, status))
                .await?;
            found = some.value["tasks"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|t| {
                            let title = t["title"].as_str().unwrap_or_default().to_lowercase();
                            wanted.iter().all(|w| title.contains(stem(w)))
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
        }
        let exact: Vec<&Value> = found
            .iter()
            .filter(|t| {
                t["title"]
                    .as_str()
                    .is_some_and(|title| title.eq_ignore_ascii_case(words))
            })
            .collect();
        let chosen: Vec<Shown> = if exact.len() == 1 {
            exact.into_iter().filter_map(shown).collect()
        } else {
            found.iter().filter_map(shown).collect()
        };
        Ok(match chosen.len() {
            0 => {
                let which = match status {
                    StatusFilter::Pending => "pending task",
                    StatusFilter::Completed => "completed task",
                    StatusFilter::All => "task",
                };
                Resolved::None(format!("I couldn't find a {which} matching “{words}”."))
            }
            1 => Resolved::One(chosen.into_iter().next().unwrap_or(Shown {
                number: 0,
                title: String::new(),
            })),
            _ => Resolved::Many(chosen),
        })
    }

    async fn apply_all(&mut self, action: &Action, tasks: &[Shown]) -> Result<String, ChatError> {
        if let [one] = tasks {
            return self.apply_one(action, one.number).await;
        }
        if matches!(action, Action::Add { .. }) {
            // An add is confirmed through `answer`, never applied to tasks.
            return Ok(NOT_UNDERSTOOD.to_owned());
        }
        let mut done = Vec::new();
        let mut failed = 0;
        for task in tasks {
            let outcome = match action {
                Action::Add { .. } => continue,
                Action::Delete => {
                    self.tools
                        .call_with("delete_task", &id_args(task.number))
                        .await?
                }
                Action::Done(d) => {
                    self.tools
                        .call_with("complete_task", &complete_args(task.number, *d))
                        .await?
                }
                Action::Update(change) => {
                    self.tools
                        .call_with("update_task", &update_args(task.number, change, self.clock))
                        .await?
                }
            };
            if outcome.is_error {
                failed += 1;
            } else {
                done.push(format!("#{}", task.number));
            }
        }
        self.state.focus.clear();
        let verb = match action {
            Action::Delete => "Deleted",
            Action::Done(true) => "Marked as done",
            Action::Done(false) => "Reopened",
            Action::Update(_) => "Updated",
            Action::Add { .. } => "Added",
        };
        let noun = if done.len() == 1 { "task" } else { "tasks" };
        let mut reply = format!("{verb} {} {noun}: {}.", done.len(), done.join(", "));
        if done.is_empty() {
            reply = "Nothing was changed.".to_owned();
        }
        if failed > 0 {
            reply.push_str(&format!(" {failed} could not be changed (already gone?)."));
        }
        Ok(reply)
    }

    async fn apply_one(&mut self, action: &Action, number: i32) -> Result<String, ChatError> {
        let tools = self.tools;
        let clock = self.clock;
        let outcome = match action {
            Action::Add { .. } => return Ok(NOT_UNDERSTOOD.to_owned()),
            Action::Done(done) => {
                tools
                    .call_with("complete_task", &complete_args(number, *done))
                    .await?
            }
            Action::Delete => tools.call_with("delete_task", &id_args(number)).await?,
            Action::Update(change) => {
                let mut args = update_args(number, change, clock);
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
                    for t in new_tags {
                        if !tags.iter().any(|have| have.eq_ignore_ascii_case(t)) {
                            tags.push(t.clone());
                        }
                    }
                    args.tags = Patch::Set(tags);
                }
                tools.call_with("update_task", &args).await?
            }
        };
        if outcome.is_error {
            return Ok(not_found_or(&outcome.value, number));
        }
        let task = &outcome.value["task"];
        let title = task["title"].as_str().unwrap_or_default();
        self.state.focus = match action {
            Action::Delete => Vec::new(),
            _ => shown(task).into_iter().collect(),
        };
        Ok(match action {
            Action::Done(true) => format!("Marked #{number} “{title}” as done. ✓"),
            Action::Done(false) => format!("Reopened #{number} “{title}”."),
            Action::Delete => format!("Deleted #{number} “{title}”."),
            Action::Update(_) | Action::Add { .. } => {
                format!("Updated {}.", describe_task(task, clock))
            }
        })
    }

    /// The tasks a list filter asks for, cut to the asked day when it names one.
    async fn fetch(
        &mut self,
        args: &ListTasksArgs,
        filter: &ListFilter,
    ) -> Result<Result<(Vec<Value>, Count), String>, ChatError> {
        let outcome = self.tools.call_with("list_tasks", args).await?;
        if outcome.is_error {
            return Ok(Err(format!(
                "I couldn't list your tasks: {}",
                error_message(&outcome.value)
            )));
        }
        let mut tasks: Vec<Value> = outcome.value["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let total = Count {
            n: outcome.value["total"]
                .as_u64()
                .unwrap_or(tasks.len() as u64),
            // Past the list's count cap the total is a floor ("more than 1000").
            more: outcome.value["total_is_lower_bound"] == true,
        };
        let day = match filter.due {
            Some(DueFilter::Today) => Some(self.clock.today()),
            Some(DueFilter::On(d)) => Some(d),
            _ => None,
        };
        if let Some(day) = day {
            // due_before the next day also returns earlier ones: keep that local day only.
            tasks.retain(|t| due_local(t, self.clock).map(|d| d.date()) == Some(day));
            let n = tasks.len() as u64;
            return Ok(Ok((tasks, Count { n, more: false })));
        }
        Ok(Ok((tasks, total)))
    }

    async fn count(&mut self, filter: &ListFilter) -> Result<String, ChatError> {
        let args = count_args(filter, self.clock);
        let (_, count) = match self.fetch(&args, filter).await? {
            Ok(found) => found,
            Err(reply) => return Ok(reply),
        };
        let noun = count.noun();
        Ok(format!(
            "You have {count} {noun} {}{}.",
            what(filter, self.clock),
            filter_suffix(filter)
        ))
    }

    async fn list(&mut self, filter: &ListFilter) -> Result<String, ChatError> {
        let args = list_args(filter, self.clock);
        let (tasks, count) = match self.fetch(&args, filter).await? {
            Ok(found) => found,
            Err(reply) => return Ok(reply),
        };
        let what = what(filter, self.clock);
        if tasks.is_empty() {
            self.state.focus.clear();
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
        let noun = count.noun();
        let mut reply = format!("You have {count} {noun} {what}{}:", filter_suffix(filter));
        for task in tasks.iter().take(50) {
            reply.push_str("\n• ");
            reply.push_str(&describe_task(task, self.clock));
        }
        let shown_n = tasks.len().min(50) as u64;
        if count.more {
            reply.push_str(&format!(
                "\n…and more than {} more.",
                count.n.saturating_sub(shown_n)
            ));
        } else if count.n > shown_n {
            reply.push_str(&format!("\n…and {} more.", count.n - shown_n));
        }
        self.state.focus = tasks.iter().take(FOCUS_MAX).filter_map(shown).collect();
        Ok(reply)
    }
}

/// A word's stem for matching titles ("groceries" finds "grocery"): its first letters.
fn stem(word: &str) -> &str {
    let end = word
        .char_indices()
        .nth(5)
        .map(|(i, _)| i)
        .unwrap_or(word.len());
    &word[..end]
}

/// The option a number (a task number among them, else a position) or ordinal names.
fn pick_from(answer: Answer, options: &[Shown]) -> Option<&Shown> {
    match answer {
        Answer::Number(n) => options.iter().find(|o| o.number == n).or_else(|| {
            usize::try_from(n)
                .ok()
                .and_then(|k| k.checked_sub(1))
                .and_then(|k| options.get(k))
        }),
        Answer::Pick(usize::MAX) => options.last(),
        Answer::Pick(k) => k.checked_sub(1).and_then(|k| options.get(k)),
        _ => None,
    }
}

fn what(filter: &ListFilter, clock: &UserClock) -> String {
    match (filter.status, filter.due) {
        (_, Some(DueFilter::Today)) => "due today".into(),
        (_, Some(DueFilter::On(d))) => format!("due {}", describe(d, clock.today())),
        (_, Some(DueFilter::Overdue)) => "overdue".into(),
        (_, Some(DueFilter::ThisWeek)) => "due this week".into(),
        (Status::Completed, None) => "completed".into(),
        (Status::All, None) => "in total".into(),
        (Status::Pending, None) => "pending".into(),
    }
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

/// A task's due instant on the user's wall clock.
fn due_local(task: &Value, clock: &UserClock) -> Option<time::PrimitiveDateTime> {
    let raw = task["due_at"].as_str()?;
    OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| clock.local(t))
}

/// `#3 “buy milk” (due tomorrow 17:00, high priority, #shop)`, dates in the user's zone.
pub fn describe_task(task: &Value, clock: &UserClock) -> String {
    let today = clock.today();
    let mut s = format!(
        "#{} “{}”",
        task["number"].as_i64().unwrap_or(0),
        task["title"].as_str().unwrap_or_default()
    );
    let mut notes = Vec::new();
    if task["completed"] == json!(true) {
        notes.push("done".to_owned());
    }
    if let Some(local) = due_local(task, clock) {
        let d = local.date();
        let mut when = describe(d, today);
        if local.time() != time::Time::MIDNIGHT {
            when.push_str(&format!(" {:02}:{:02}", local.hour(), local.minute()));
        }
        let overdue = d < today && task["completed"] != json!(true);
        notes.push(if overdue {
            format!("overdue since {when}")
        } else {
            format!("due {when}")
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

#[cfg(test)]
mod count_tests {
    use super::Count;

    #[test]
    fn a_capped_total_reads_as_a_floor() {
        let exact = Count { n: 1, more: false };
        assert_eq!((exact.to_string(), exact.noun()), ("1".into(), "task"));
        let capped = Count {
            n: 1000,
            more: true,
        };
        assert_eq!(
            (capped.to_string(), capped.noun()),
            ("more than 1000".into(), "tasks")
        );
    }
}
