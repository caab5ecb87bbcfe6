//! Turns an English sentence into an [`Intent`]. Deterministic and pure (dates are relative
//! to a given `today`), so every phrasing it understands is pinned down by a table test.
//!
//! Matching is on lower-cased words, but titles keep the user's own casing.

use super::dates::parse_date;
use time::Date;
use todo_store::Priority;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Add {
        title: String,
        due: Option<Date>,
        priority: Option<Priority>,
        tags: Vec<String>,
    },
    List(ListFilter),
    SetDone {
        target: Target,
        done: bool,
    },
    Delete {
        target: Target,
    },
    Update {
        target: Target,
        change: Change,
    },
    Help,
    Greeting,
    Unknown,
}

/// Which task the user means: a number, or words from its title ("the milk one").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Number(i32),
    Words(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Title(String),
    Due(Option<Date>),
    Priority(Priority),
    AddTags(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Pending,
    Completed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueFilter {
    Today,
    Overdue,
    ThisWeek,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListFilter {
    pub status: Status,
    pub due: Option<DueFilter>,
    pub tag: Option<String>,
    pub priority: Option<Priority>,
    pub query: Option<String>,
}

/// A sentence split into words, original and lower-cased side by side.
struct Words<'a> {
    original: Vec<&'a str>,
    lower: Vec<String>,
}

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Words<'a> {
        let original: Vec<&str> = text.split_whitespace().collect();
        let lower = original
            .iter()
            .map(|w| {
                w.to_lowercase()
                    .replace('’', "'")
                    .trim_matches(|c: char| {
                        matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | '"' | '“' | '”')
                    })
                    .to_owned()
            })
            .collect();
        Words { original, lower }
    }

    fn lower_refs(&self) -> Vec<&str> {
        self.lower.iter().map(String::as_str).collect()
    }

    /// The original words from `from` to `to`, joined, trimmed of edge punctuation.
    fn text(&self, from: usize, to: usize) -> String {
        clean(&self.original[from.min(self.original.len())..to.min(self.original.len())].join(" "))
    }
}

fn clean(s: &str) -> String {
    s.trim()
        .trim_matches(|c: char| {
            matches!(
                c,
                ',' | '.' | '!' | '?' | ';' | ':' | '"' | '\'' | '“' | '”' | '-'
            )
        })
        .trim()
        .to_owned()
}

/// Does `words` start with `phrase` (space separated)? Returns the number of words matched.
fn starts_with(words: &[&str], phrase: &str) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    (words.len() >= p.len() && words[..p.len()] == p[..]).then_some(p.len())
}

fn find_phrase(words: &[&str], phrase: &str) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    (0..words.len()).find(|&i| words.len() >= i + p.len() && words[i..i + p.len()] == p[..])
}

pub fn parse(text: &str, today: Date) -> Intent {
    let words = Words::new(text);
    let lw = words.lower_refs();
    if lw.is_empty() {
        return Intent::Unknown;
    }
    if let Some(intent) = parse_add(&words, &lw, today) {
        return intent;
    }
    if let Some(intent) = parse_done(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_delete(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_update(&words, &lw, today) {
        return intent;
    }
    if let Some(intent) = parse_list(&lw) {
        return intent;
    }
    let joined = lw.join(" ");
    if matches!(
        joined.as_str(),
        "help" | "what can you do" | "how does this work" | "commands" | "?" | "help me"
    ) || joined.starts_with("what can you")
    {
        return Intent::Help;
    }
    if matches!(
        lw[0],
        "hi" | "hello" | "hey" | "thanks" | "thank" | "yo" | "morning" | "good"
    ) && lw.len() <= 4
    {
        return Intent::Greeting;
    }
    Intent::Unknown
}

const ADD_PREFIXES: [&str; 16] = [
    "please add a task to",
    "please add",
    "add a new task",
    "add a task",
    "add task",
    "add",
    "create a task",
    "create task",
    "create",
    "new task",
    "remind me to",
    "remind me",
    "i need to",
    "i have to",
    "todo",
    "task",
];

fn parse_add(words: &Words, lw: &[&str], today: Date) -> Option<Intent> {
    let used = ADD_PREFIXES.iter().find_map(|p| starts_with(lw, p))?;
    // "task" alone is a list request ("tasks?" is handled by list); "todo list" too.
    if matches!(lw.get(used).copied(), Some("list") | Some("lists"))
        || (used == lw.len() && lw[0] != "add")
    {
        return None;
    }
    let mut start = used;
    if lw.get(start) == Some(&"to") && lw[0] != "remind" {
        start += 1;
    }
    let mut keep = vec![true; lw.len()];
    for k in keep.iter_mut().take(start) {
        *k = false;
    }
    let mut due = None;
    let mut priority = None;
    let mut tags = Vec::new();
    let mut i = start;
    while i < lw.len() {
        if let Some(tag) = lw[i].strip_prefix('#').filter(|t| !t.is_empty()) {
            tags.push(tag.to_owned());
            keep[i] = false;
            i += 1;
            continue;
        }
        if let Some((p, n)) = priority_at(&lw[i..]) {
            priority = Some(p);
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            // "with high priority", "as high priority"
            if i > start && matches!(lw[i - 1], "with" | "as" | "at" | "and") {
                keep[i - 1] = false;
            }
            i += n;
            continue;
        }
        // A date only counts after the title has started ("add friday standup" keeps it).
        if i > start
            && due.is_none()
            && let Some((d, n)) = parse_date(&lw[i..], today)
        {
            due = Some(d);
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            if i > start && matches!(lw[i - 1], "and" | "it's" | "its") {
                keep[i - 1] = false;
            }
            i += n;
            continue;
        }
        i += 1;
    }
    let title_words: Vec<&str> = words
        .original
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(w, _)| *w)
        .collect();
    let mut title = clean(&title_words.join(" "));
    for tail in [" and", " with", " due", " by", " on"] {
        if title.to_lowercase().ends_with(tail) {
            title.truncate(title.len() - tail.len());
        }
    }
    Some(Intent::Add {
        title: clean(&title),
        due,
        priority,
        tags,
    })
}

/// "high priority", "priority high", "urgent", "important", "low priority", ...
fn priority_at(lw: &[&str]) -> Option<(Priority, usize)> {
    let level = |w: &str| match w {
        "high" | "top" => Some(Priority::High),
        "medium" | "normal" => Some(Priority::Medium),
        "low" => Some(Priority::Low),
        _ => None,
    };
    match lw {
        [w, "priority", ..] | [w, "prio", ..] => level(w).map(|p| (p, 2)),
        ["priority", w, ..] => level(w).map(|p| (p, 2)),
        ["high-priority", ..] => Some((Priority::High, 1)),
        ["low-priority", ..] => Some((Priority::Low, 1)),
        ["urgent", ..] | ["urgently", ..] | ["important", ..] | ["asap", ..] => {
            Some((Priority::High, 1))
        }
        _ => None,
    }
}

const DONE_SUFFIXES: [&str; 9] = [
    "is done",
    "is finished",
    "is complete",
    "is completed",
    "done",
    "finished",
    "completed",
    "complete",
    "as done",
];
const NOT_DONE: [&str; 8] = [
    "not done",
    "undone",
    "incomplete",
    "not complete",
    "not completed",
    "pending",
    "open",
    "unfinished",
];

/// Questions ("what have I done?", "what's due today?") are list requests, never commands.
fn is_question(lw: &[&str]) -> bool {
    matches!(
        lw[0],
        "what"
            | "what's"
            | "whats"
            | "which"
            | "how"
            | "show"
            | "list"
            | "any"
            | "anything"
            | "is"
            | "are"
            | "do"
    )
}

fn parse_done(words: &Words, lw: &[&str]) -> Option<Intent> {
    let n = lw.len();
    if is_question(lw) {
        return None;
    }
    // Undo first: "undo 3", "reopen the milk one", "mark 3 as not done"
    for prefix in [
        "undo",
        "reopen",
        "re-open",
        "uncomplete",
        "unmark",
        "uncheck",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            return target(words, k, n).map(|target| Intent::SetDone {
                target,
                done: false,
            });
        }
    }
    if let Some(k) = starts_with(lw, "mark") {
        for suffix in NOT_DONE {
            if let Some(pos) = find_phrase(lw, suffix).filter(|p| *p > k) {
                let end = if lw[pos - 1] == "as" { pos - 1 } else { pos };
                return target(words, k, end).map(|target| Intent::SetDone {
                    target,
                    done: false,
                });
            }
        }
        for suffix in [
            "as done",
            "as complete",
            "as completed",
            "as finished",
            "done",
            "complete",
            "completed",
            "finished",
            "as read",
        ] {
            if let Some(pos) =
                find_phrase(lw, suffix).filter(|p| *p > k && p + suffix.split(' ').count() == n)
            {
                return target(words, k, pos).map(|target| Intent::SetDone { target, done: true });
            }
        }
    }
    for phrase in ["is not done", "isn't done", "is not finished"] {
        if let Some(pos) =
            find_phrase(lw, phrase).filter(|p| *p > 0 && p + phrase.split(' ').count() == n)
        {
            return target(words, 0, pos).map(|target| Intent::SetDone {
                target,
                done: false,
            });
        }
    }
    for prefix in [
        "i'm done with",
        "im done with",
        "i am done with",
        "done with",
        "i finished",
        "i've finished",
        "i completed",
        "i did",
        "finished",
        "finish",
        "completed",
        "complete",
        "check off",
        "tick off",
        "cross off",
        "done",
    ] {
        if let Some(k) = starts_with(lw, prefix)
            && k < n
        {
            return target(words, k, n).map(|target| Intent::SetDone { target, done: true });
        }
    }
    // "3 is done", "the milk one is finished", "milk done"
    for suffix in DONE_SUFFIXES {
        let len = suffix.split(' ').count();
        if n > len && lw[n - len..].join(" ") == suffix {
            return target(words, 0, n - len).map(|target| Intent::SetDone { target, done: true });
        }
    }
    None
}

fn parse_delete(words: &Words, lw: &[&str]) -> Option<Intent> {
    for prefix in [
        "please delete",
        "please remove",
        "delete task",
        "delete",
        "remove task",
        "remove",
        "get rid of",
        "drop",
        "cancel",
        "forget about",
        "forget",
        "trash",
        "erase",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            // "remove the due date from 3" is an update, not a delete.
            if lw[k..].iter().any(|w| *w == "due" || *w == "deadline") {
                return None;
            }
            return target(words, k, lw.len()).map(|target| Intent::Delete { target });
        }
    }
    None
}

fn parse_update(words: &Words, lw: &[&str], today: Date) -> Option<Intent> {
    let n = lw.len();
    // rename X to Y / change X to Y / update X to Y
    for prefix in [
        "rename",
        "change the title of",
        "change title of",
        "change",
        "update",
        "retitle",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            let to = (k + 1..n).find(|&i| lw[i] == "to")?;
            let rest = &lw[to + 1..];
            // "change 3 to friday" / "change the due date of 3 to friday" mean a date
            let mut tgt_start = k;
            let mut is_due = false;
            for filler in [
                "the due date of",
                "due date of",
                "the date of",
                "the deadline of",
                "deadline of",
                "due date for",
            ] {
                if let Some(f) = starts_with(&lw[k..], filler) {
                    tgt_start = k + f;
                    is_due = true;
                }
            }
            if let Some((d, used)) = parse_date(rest, today).filter(|(_, used)| *used == rest.len())
            {
                let _ = used;
                return target(words, tgt_start, to).map(|target| Intent::Update {
                    target,
                    change: Change::Due(Some(d)),
                });
            }
            if is_due {
                return None;
            }
            if let Some((p, used)) = priority_at(rest).filter(|(_, used)| *used == rest.len()) {
                let _ = used;
                return target(words, tgt_start, to).map(|target| Intent::Update {
                    target,
                    change: Change::Priority(p),
                });
            }
            let title = words.text(to + 1, n);
            if title.is_empty() {
                return None;
            }
            return target(words, tgt_start, to).map(|target| Intent::Update {
                target,
                change: Change::Title(title),
            });
        }
    }
    // move/reschedule/push X to <date>
    for prefix in [
        "move",
        "reschedule",
        "push",
        "postpone",
        "set the due date of",
        "set due date of",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            let to = (k + 1..n).find(|&i| matches!(lw[i], "to" | "for" | "until" | "till"))?;
            let (d, used) = parse_date(&lw[to + 1..], today)?;
            if to + 1 + used != n {
                return None;
            }
            return target(words, k, to).map(|target| Intent::Update {
                target,
                change: Change::Due(Some(d)),
            });
        }
    }
    // remove the due date from X / clear the due date of X
    for prefix in [
        "remove the due date from",
        "remove due date from",
        "clear the due date of",
        "clear the due date on",
        "clear due date of",
        "remove the deadline from",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            return target(words, k, n).map(|target| Intent::Update {
                target,
                change: Change::Due(None),
            });
        }
    }
    // make X high priority / set X to low priority / prioritize X / set priority of X to high
    if let Some(k) = starts_with(lw, "prioritize").or_else(|| starts_with(lw, "prioritise")) {
        return target(words, k, n).map(|target| Intent::Update {
            target,
            change: Change::Priority(Priority::High),
        });
    }
    for prefix in [
        "set the priority of",
        "set priority of",
        "change the priority of",
        "change priority of",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            let to = (k + 1..n).find(|&i| lw[i] == "to")?;
            let p = match lw.get(to + 1).copied() {
                Some("high") | Some("urgent") => Priority::High,
                Some("medium") | Some("normal") => Priority::Medium,
                Some("low") => Priority::Low,
                _ => return None,
            };
            return target(words, k, to).map(|target| Intent::Update {
                target,
                change: Change::Priority(p),
            });
        }
    }
    for prefix in ["make", "set", "mark"] {
        if let Some(k) = starts_with(lw, prefix) {
            for end in (k + 1..n).rev() {
                let tail = &lw[end..];
                if priority_at(tail).is_some_and(|(_, used)| used == tail.len()) {
                    let p = priority_at(tail).map(|(p, _)| p).unwrap_or_default();
                    let mut cut = end;
                    while cut > k + 1 && matches!(lw[cut - 1], "to" | "as" | "be") {
                        cut -= 1;
                    }
                    return target(words, k, cut).map(|target| Intent::Update {
                        target,
                        change: Change::Priority(p),
                    });
                }
            }
        }
    }
    // X is urgent / X is due friday / X due tomorrow
    if let Some(pos) = lw
        .iter()
        .position(|w| *w == "is" || *w == "due")
        .filter(|_| !is_question(lw))
        && pos > 0
    {
        let after = if lw[pos] == "is" && lw.get(pos + 1) == Some(&"due") {
            pos + 2
        } else {
            pos + 1
        };
        if let Some((d, used)) = parse_date(&lw[after..], today).filter(|(_, u)| after + u == n) {
            let _ = used;
            return target(words, 0, pos).map(|target| Intent::Update {
                target,
                change: Change::Due(Some(d)),
            });
        }
        if lw[pos] == "is"
            && let Some((p, _)) = priority_at(&lw[pos + 1..]).filter(|(_, u)| pos + 1 + u == n)
        {
            return target(words, 0, pos).map(|target| Intent::Update {
                target,
                change: Change::Priority(p),
            });
        }
    }
    // tag X #work #home / tag X with work
    if let Some(k) = starts_with(lw, "tag") {
        let tags: Vec<String> = lw[k..]
            .iter()
            .filter_map(|w| w.strip_prefix('#'))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if !tags.is_empty() {
            let end = lw.iter().position(|w| w.starts_with('#')).unwrap_or(n);
            let end = if end > 0 && lw[end - 1] == "with" {
                end - 1
            } else {
                end
            };
            return target(words, k, end).map(|target| Intent::Update {
                target,
                change: Change::AddTags(tags),
            });
        }
        if let Some(with) = (k..n).find(|&i| lw[i] == "with" || lw[i] == "as") {
            let tags: Vec<String> = lw[with + 1..]
                .iter()
                .map(|t| t.to_string())
                .filter(|t| !t.is_empty() && *t != "and")
                .collect();
            if !tags.is_empty() {
                return target(words, k, with).map(|target| Intent::Update {
                    target,
                    change: Change::AddTags(tags),
                });
            }
        }
    }
    None
}

const LIST_STARTS: [&str; 23] = [
    "what's",
    "whats",
    "what",
    "which",
    "show",
    "list",
    "display",
    "view",
    "see",
    "any",
    "anything",
    "pending",
    "overdue",
    "tasks",
    "todos",
    "my",
    "open",
    "remaining",
    "completed",
    "done",
    "finished",
    "all",
    "everything",
];

fn parse_list(lw: &[&str]) -> Option<Intent> {
    let joined = lw.join(" ");
    let first = lw[0];
    let asks = LIST_STARTS.contains(&first)
        || joined.contains("my tasks")
        || joined.contains("to do list")
        || joined.contains("todo list")
        || joined.contains("to-do list");
    if !asks {
        return None;
    }
    // "what can you do" is help, not a list.
    if joined.starts_with("what can") || joined.starts_with("what do you") {
        return None;
    }
    let mut filter = ListFilter::default();
    let has = |w: &str| lw.contains(&w);
    if has("done")
        || has("completed")
        || has("finished")
        || joined.contains("have i done")
        || joined.contains("did i finish")
    {
        filter.status = Status::Completed;
    }
    if has("all") || has("everything") || has("every") {
        filter.status = Status::All;
    }
    if has("pending")
        || has("left")
        || has("open")
        || has("remaining")
        || has("outstanding")
        || joined.contains("to do")
    {
        filter.status = Status::Pending;
    }
    if has("today") || has("tonight") {
        filter.due = Some(DueFilter::Today);
    } else if has("overdue") || has("late") || joined.contains("past due") {
        filter.due = Some(DueFilter::Overdue);
    } else if joined.contains("this week") {
        filter.due = Some(DueFilter::ThisWeek);
    }
    if let Some(tag) = lw
        .iter()
        .find_map(|w| w.strip_prefix('#'))
        .filter(|t| !t.is_empty())
    {
        filter.tag = Some(tag.to_owned());
    } else if let Some(pos) = lw.iter().position(|w| *w == "tagged" || *w == "tag") {
        filter.tag = lw.get(pos + 1).map(|t| t.to_string());
    }
    for i in 0..lw.len() {
        if let Some((p, _)) = priority_at(&lw[i..]) {
            filter.priority = Some(p);
            break;
        }
    }
    if let Some(pos) = lw
        .iter()
        .position(|w| matches!(*w, "about" | "containing" | "matching" | "mentioning"))
    {
        let q = lw[pos + 1..].join(" ");
        if !q.is_empty() {
            filter.query = Some(q);
        }
    }
    Some(Intent::List(filter))
}

/// The task named by words `from..to`: a number ("3", "#3", "task 3", "number 3") or title
/// words with fillers removed ("the milk one" -> "milk").
fn target(words: &Words, from: usize, to: usize) -> Option<Target> {
    const FILLERS: [&str; 14] = [
        "the", "a", "my", "task", "tasks", "one", "item", "todo", "number", "no", "#", "as",
        "with", "that",
    ];
    let lw = words.lower_refs();
    let slice = lw.get(from..to.min(lw.len()))?;
    let kept: Vec<usize> = (from..to.min(lw.len()))
        .filter(|&i| !FILLERS.contains(&lw[i]) && !lw[i].is_empty())
        .collect();
    if kept.is_empty() {
        return None;
    }
    if kept.len() == 1 {
        let w = lw[kept[0]].trim_start_matches('#');
        if let Ok(n) = w.parse::<i32>() {
            return (n > 0).then_some(Target::Number(n));
        }
    }
    let _ = slice;
    let text: Vec<&str> = kept.iter().map(|&i| words.original[i]).collect();
    let text = clean(&text.join(" "));
    (!text.is_empty()).then_some(Target::Words(text))
}
