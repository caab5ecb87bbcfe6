//! Turns an English sentence into an [`Intent`]. Deterministic and pure (dates are relative
//! to the user's local "now" on a [`UserClock`]), so every phrasing it understands is pinned
//! down by a table test.
//!
//! Matching is on lower-cased words with common typos repaired ("tmrw", "tsks"), but titles
//! keep the user's own words and casing. Politeness ("please", "could you", "thanks") and
//! openers ("actually", "oh") are set aside first. The rule: anything the parser is not sure
//! of becomes a question or [`Intent::Unknown`], never a guess reported as done.

use super::dates::{Due, parse_due};
use crate::clock::UserClock;
use serde::{Deserialize, Serialize};
use time::Date;
use todo_store::Priority;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Add {
        title: String,
        due: Option<Due>,
        priority: Option<Priority>,
        tags: Vec<String>,
    },
    List(ListFilter),
    /// "how many tasks do I have?"
    Count(ListFilter),
    SetDone {
        target: Target,
        done: bool,
    },
    /// "I bought the groceries": a statement that some task is done. Confirmed before acting.
    Claim {
        words: String,
    },
    Delete {
        target: Target,
    },
    /// "remove all completed tasks": confirmed with the count first.
    DeleteAll {
        status: Status,
    },
    Update {
        target: Target,
        change: Change,
    },
    /// An answer to the engine's last question.
    Answer(Answer),
    /// Several commands in one message ("add milk, then show my tasks").
    Several(Vec<Intent>),
    /// "buy milk tomorrow": reads as a task, but no "add" was said: offered, not done.
    MaybeAdd {
        title: String,
        due: Option<Due>,
        priority: Option<Priority>,
        tags: Vec<String>,
    },
    Help,
    Greeting,
    Thanks,
    /// Not about tasks at all ("what's the weather").
    OffTopic,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// A bare number: a task number among the offered ones, else a position.
    Number(i32),
    /// "the second one": a 1-based position in what was last shown.
    Pick(usize),
}

/// Which task the user means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Number(i32),
    /// Words from its title ("the milk one" -> "milk").
    Words(String),
    /// "it", "that one": the task the conversation is about.
    It,
    /// "the second one": a 1-based position in what was last shown.
    Ordinal(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Title(String),
    /// `None` clears the due date.
    Due(Option<Due>),
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
    /// Due on that local day ("due tomorrow", "due friday").
    On(Date),
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

/// Typos and shorthands people type, repaired before matching (titles keep the original).
const TYPOS: [(&str, &str); 30] = [
    ("tmrw", "tomorrow"),
    ("tmr", "tomorrow"),
    ("tmrow", "tomorrow"),
    ("tomorow", "tomorrow"),
    ("tommorow", "tomorrow"),
    ("tommorrow", "tomorrow"),
    ("tomorro", "tomorrow"),
    ("2moro", "tomorrow"),
    ("2day", "today"),
    ("tdy", "today"),
    ("tonite", "tonight"),
    ("tsks", "tasks"),
    ("taks", "tasks"),
    ("tasls", "tasks"),
    ("tasjs", "tasks"),
    ("tsk", "task"),
    ("tak", "task"),
    ("todos", "tasks"),
    ("to-dos", "tasks"),
    ("delet", "delete"),
    ("dlete", "delete"),
    ("remvoe", "remove"),
    ("shwo", "show"),
    ("lsit", "list"),
    ("pls", "please"),
    ("plz", "please"),
    ("u", "you"),
    ("whats", "what's"),
    ("im", "i'm"),
    ("didnt", "didn't"),
];

impl<'a> Words<'a> {
    fn new(text: &'a str) -> Words<'a> {
        let original: Vec<&str> = text.split_whitespace().collect();
        let lower = original
            .iter()
            .map(|w| {
                let w = w
                    .to_lowercase()
                    .replace('’', "'")
                    .trim_matches(|c: char| {
                        matches!(
                            c,
                            ',' | '.' | '!' | '?' | ';' | ':' | '"' | '“' | '”' | '(' | ')'
                        )
                    })
                    .to_owned();
                TYPOS
                    .iter()
                    .find(|(typo, _)| *typo == w)
                    .map(|(_, fixed)| (*fixed).to_owned())
                    .unwrap_or(w)
            })
            .collect();
        Words { original, lower }
    }

    /// The words `from..to` only.
    fn slice(&self, from: usize, to: usize) -> Words<'a> {
        Words {
            original: self.original[from..to].to_vec(),
            lower: self.lower[from..to].to_vec(),
        }
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

/// Openers and politeness set aside before matching: (phrase, at the start?).
const OPENERS: [&str; 24] = [
    "please",
    "can you please",
    "could you please",
    "can you",
    "could you",
    "would you",
    "will you",
    "can i",
    "kindly",
    "hey",
    "ok so",
    "okay so",
    "so",
    "oh",
    "oops",
    "um",
    "uh",
    "hmm",
    "wait",
    "actually",
    "also",
    "and",
    "i want to",
    "i'd like to",
];
const CLOSERS: [&str; 9] = [
    "please",
    "thanks",
    "thank you",
    "thx",
    "for me",
    "now",
    "pls",
    "thanks a lot",
    "ok",
];

/// The words that carry the request: politeness and openers cut from both ends.
fn core<'a>(words: &Words<'a>) -> Words<'a> {
    let lw = words.lower_refs();
    let (mut from, mut to) = (0, lw.len());
    loop {
        let before = from;
        for opener in OPENERS {
            if let Some(k) = starts_with(&lw[from..to], opener)
                && from + k < to
            {
                from += k;
                break;
            }
        }
        if from == before {
            break;
        }
    }
    loop {
        let before = to;
        for closer in CLOSERS {
            let n = closer.split(' ').count();
            if to > from + n && lw[to - n..to].join(" ") == closer {
                to -= n;
                break;
            }
        }
        if to == before {
            break;
        }
    }
    words.slice(from, to)
}

pub fn parse(text: &str, clock: &UserClock) -> Intent {
    let all = Words::new(text);
    if all.lower.iter().all(String::is_empty) {
        return Intent::Unknown;
    }
    if let Some(several) = parse_several(text, clock) {
        return several;
    }
    parse_one(&all, clock)
}

fn parse_one(all: &Words, clock: &UserClock) -> Intent {
    let joined_all = all.lower.join(" ");
    let words = core(all);
    let lw = words.lower_refs();
    if lw.is_empty() || lw.iter().all(|w| w.is_empty()) {
        return Intent::Unknown;
    }
    if let Some(answer) = parse_answer(&lw, &joined_all) {
        return Intent::Answer(answer);
    }
    let joined = lw.join(" ");
    if is_help(&joined) {
        return Intent::Help;
    }
    if is_off_topic(&lw) {
        return Intent::OffTopic;
    }
    if let Some(intent) = parse_delete_all(&lw) {
        return intent;
    }
    if let Some(intent) = parse_tag_edit(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_add(&words, &lw, clock) {
        return intent;
    }
    if let Some(intent) = parse_undo_statement(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_done(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_claim(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_delete(&words, &lw) {
        return intent;
    }
    if let Some(intent) = parse_update(&words, &lw, clock) {
        return intent;
    }
    if let Some(intent) = parse_count(&lw, clock) {
        return intent;
    }
    if let Some(intent) = parse_list(&lw, clock) {
        return intent;
    }
    if matches!(lw[0], "thanks" | "thank" | "cheers" | "ty" | "thx") && lw.len() <= 4 {
        return Intent::Thanks;
    }
    // Greetings are read on the whole message: "hey" is also an opener that core() drops.
    if matches!(
        all.lower[0].as_str(),
        "hi" | "hello" | "hey" | "yo" | "morning" | "good" | "hiya"
    ) && all.lower.len() <= 4
    {
        return Intent::Greeting;
    }
    maybe_add(&words, &lw, clock).unwrap_or(Intent::Unknown)
}

/// Verbs a task title often starts with, for a message that is just a task ("buy milk").
const TASK_VERBS: [&str; 28] = [
    "buy", "call", "pay", "email", "book", "clean", "pick", "write", "send", "fix", "renew",
    "schedule", "get", "water", "walk", "feed", "wash", "cook", "order", "return", "submit",
    "file", "phone", "text", "visit", "prepare", "review", "read",
];

/// A message that is just a task ("buy milk tomorrow"): offered as an add, never done unasked.
fn maybe_add(words: &Words, lw: &[&str], clock: &UserClock) -> Option<Intent> {
    if !TASK_VERBS.contains(&lw[0]) || lw.len() > 10 || words.original.join(" ").contains('?') {
        return None;
    }
    let text = format!("add {}", words.original.join(" "));
    let prefixed = Words::new(&text);
    match parse_add(&prefixed, &prefixed.lower_refs(), clock)? {
        Intent::Add {
            title,
            due,
            priority,
            tags,
        } if !title.is_empty() => Some(Intent::MaybeAdd {
            title,
            due,
            priority,
            tags,
        }),
        _ => None,
    }
}

/// Clauses joined by "then", ";" or ". " that each parse as a command.
fn parse_several(text: &str, clock: &UserClock) -> Option<Intent> {
    let lowered = text.to_lowercase();
    let mut parts: Vec<String> = vec![lowered.clone()];
    // Cut at the original text's positions so titles keep their casing.
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for sep in [
        "; ",
        ". ",
        ", then ",
        " and then ",
        " then ",
        ", and also ",
        " and also ",
    ] {
        let mut start = 0;
        while let Some(pos) = lowered[start..].find(sep) {
            cuts.push((start + pos, sep.len()));
            start += pos + sep.len();
        }
    }
    // "... and show/list/delete/mark ...": a second command only when a command verb follows.
    for verb in [
        "show", "list", "delete", "remove", "mark", "complete", "move", "rename", "add",
    ] {
        let sep = format!(" and {verb} ");
        let mut start = 0;
        while let Some(pos) = lowered[start..].find(&sep) {
            cuts.push((start + pos, 5));
            start += pos + sep.len();
        }
    }
    if cuts.is_empty() {
        return None;
    }
    cuts.sort();
    parts.clear();
    let mut from = 0;
    for (at, len) in cuts {
        if at < from {
            continue;
        }
        parts.push(text[from..at].to_owned());
        from = at + len;
    }
    parts.push(text[from..].to_owned());
    let parts: Vec<&str> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !clean(p).is_empty())
        .collect();
    if parts.len() < 2 || parts.len() > 5 {
        return None;
    }
    let intents: Vec<Intent> = parts
        .iter()
        .map(|p| parse_one(&Words::new(p), clock))
        .collect();
    let commands = intents.iter().all(|i| {
        matches!(
            i,
            Intent::Add { .. }
                | Intent::List(_)
                | Intent::Count(_)
                | Intent::SetDone { .. }
                | Intent::Delete { .. }
                | Intent::Update { .. }
        )
    });
    // "add buy milk. thanks" is one command: several only when every part is one.
    commands.then_some(Intent::Several(intents))
}

fn parse_answer(lw: &[&str], joined_all: &str) -> Option<Answer> {
    let joined = lw.join(" ");
    let yes = [
        "yes",
        "y",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "confirm",
        "do it",
        "go ahead",
        "correct",
        "right",
        "yes please",
        "please do",
        "that's right",
        "absolutely",
    ];
    let no = [
        "no",
        "n",
        "nope",
        "nah",
        "cancel",
        "never mind",
        "nevermind",
        "don't",
        "stop",
        "no thanks",
        "leave it",
        "forget it",
    ];
    let stripped = joined.trim_end_matches(['!', '.']);
    if yes.contains(&stripped) || yes.contains(&joined_all) {
        return Some(Answer::Yes);
    }
    if no.contains(&stripped) || no.contains(&joined_all) {
        return Some(Answer::No);
    }
    let pick_words: Vec<&str> = lw
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "the" | "one" | "task" | "number" | "no" | "#"))
        .collect();
    if pick_words.len() == 1 {
        let w = pick_words[0].trim_start_matches('#');
        if let Ok(n) = w.parse::<i32>()
            && n > 0
        {
            return Some(Answer::Number(n));
        }
        if let Some(k) = ordinal(w) {
            return Some(Answer::Pick(k));
        }
    }
    None
}

fn ordinal(w: &str) -> Option<usize> {
    Some(match w {
        "first" | "1st" => 1,
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        "last" => usize::MAX,
        _ => return None,
    })
}

fn is_help(joined: &str) -> bool {
    matches!(
        joined,
        "help" | "what can you do" | "how does this work" | "commands" | "?" | "help me" | "menu"
    ) || joined.starts_with("what can you")
        || joined.starts_with("what can i")
        || joined.starts_with("how do i use")
        || joined.starts_with("you do what")
}

/// Things people ask a chatbot that are not about their tasks.
fn is_off_topic(lw: &[&str]) -> bool {
    const OFF: [&str; 22] = [
        "weather",
        "forecast",
        "rain",
        "joke",
        "news",
        "score",
        "stock",
        "stocks",
        "recipe",
        "capital",
        "president",
        "movie",
        "song",
        "poem",
        "bitcoin",
        "translate",
        "temperature",
        "meaning",
        "life",
        "football",
        "siri",
        "alexa",
    ];
    const TASKY: [&str; 8] = [
        "task", "tasks", "add", "remind", "todo", "list", "due", "delete",
    ];
    let off = lw.iter().any(|w| OFF.contains(w))
        || lw.join(" ").starts_with("what time is it")
        || lw.join(" ").starts_with("who are you")
        || lw.join(" ").starts_with("who made you");
    off && !lw.iter().any(|w| TASKY.contains(w))
}

const ADD_PREFIXES: [&str; 23] = [
    "add a task to",
    "add a new task",
    "add a task",
    "add task to",
    "add task",
    "add to my list",
    "add",
    "create a task",
    "create task",
    "create",
    "new task",
    "new todo",
    "new",
    "remind me to",
    "remind me",
    "i need to",
    "i have to",
    "i must",
    "don't forget to",
    "dont forget to",
    "todo",
    "task",
    "put",
];

fn parse_add(words: &Words, lw: &[&str], clock: &UserClock) -> Option<Intent> {
    let used = ADD_PREFIXES.iter().find_map(|p| starts_with(lw, p))?;
    // "task" alone is a list request ("tasks?" is handled by list); "todo list" too.
    if matches!(lw.get(used).copied(), Some("list") | Some("lists"))
        || (used == lw.len() && lw[0] != "add" && lw[0] != "new")
    {
        return None;
    }
    if lw[0] == "put"
        && !lw
            .windows(2)
            .any(|w| w == ["my", "list"] || w == ["the", "list"])
    {
        return None;
    }
    // "task 3 is finished" names a task; it does not add one.
    if matches!(lw[0], "task" | "todo")
        && lw
            .get(used)
            .is_some_and(|w| w.trim_start_matches('#').parse::<i32>().is_ok())
    {
        return None;
    }
    let mut start = used;
    if lw.get(start) == Some(&"to") && lw[0] != "remind" {
        start += 1;
    }
    if lw.get(start) == Some(&"task") || lw.get(start) == Some(&"a") && lw[0] == "new" {
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
    let today = clock.local_now();
    // "remind me tomorrow morning to ...": a reminder may name its day first.
    if lw[0] == "remind"
        && let Some((d, n)) = parse_due(&lw[start..], today)
    {
        due = Some(d);
        let mut end = start + n;
        if matches!(
            lw.get(end).copied(),
            Some("morning" | "afternoon" | "evening" | "night")
        ) {
            end += 1;
        }
        if lw.get(end) == Some(&"to") {
            end += 1;
        }
        keep[start..end].iter_mut().for_each(|k| *k = false);
        i = end;
        start = end;
    }
    while i < lw.len() {
        // "on my list", "to my list": where it goes, not what it is.
        if let Some(n) = [
            "on my list",
            "to my list",
            "on the list",
            "to the list",
            "on my todo list",
        ]
        .iter()
        .find_map(|p| starts_with(&lw[i..], p))
        {
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            i += n;
            continue;
        }
        if let Some(tag) = lw[i].strip_prefix('#').filter(|t| !t.is_empty()) {
            tags.push(tag.to_owned());
            keep[i] = false;
            i += 1;
            continue;
        }
        // "add call plumber high": a bare level as the last word is a priority.
        let last = i + 1 == lw.len() && i > start;
        if let Some((p, n)) = priority_at(&lw[i..]).or_else(|| {
            if last {
                match lw[i] {
                    "high" => Some((Priority::High, 1)),
                    "low" => Some((Priority::Low, 1)),
                    _ => None,
                }
            } else {
                None
            }
        }) {
            priority = Some(p);
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            // "with high priority", "it's important", "and it's urgent", "very urgent"
            let mut j = i;
            while j > start
                && matches!(
                    lw[j - 1],
                    "with"
                        | "as"
                        | "at"
                        | "and"
                        | "it's"
                        | "its"
                        | "is"
                        | "it"
                        | "very"
                        | "super"
                        | "really"
                        | "quite"
                        | "—"
                        | "-"
                )
            {
                keep[j - 1] = false;
                j -= 1;
            }
            i += n;
            continue;
        }
        // A date only counts after the title has started ("add friday standup" keeps it).
        if i > start
            && due.is_none()
            && let Some((d, n)) = parse_due(&lw[i..], today)
        {
            due = Some(d);
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            let mut j = i;
            while j > start && matches!(lw[j - 1], "and" | "it's" | "its" | "it" | "is") {
                keep[j - 1] = false;
                j -= 1;
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
    loop {
        let before = title.len();
        for tail in [" and", " with", " due", " by", " on", " for", " at", ","] {
            if title.to_lowercase().ends_with(tail) {
                title.truncate(title.len() - tail.len());
            }
            title = clean(&title);
        }
        if title.len() == before {
            break;
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
pub(crate) fn priority_at(lw: &[&str]) -> Option<(Priority, usize)> {
    let level = |w: &str| match w {
        "high" | "top" => Some(Priority::High),
        "medium" | "normal" | "mid" => Some(Priority::Medium),
        "low" => Some(Priority::Low),
        _ => None,
    };
    match lw {
        [w, "priority", ..] | [w, "prio", ..] | [w, "pri", ..] => level(w).map(|p| (p, 2)),
        ["priority", w, ..] | ["prio", w, ..] => level(w).map(|p| (p, 2)),
        ["high-priority", ..] | ["hi-pri", ..] => Some((Priority::High, 1)),
        ["low-priority", ..] => Some((Priority::Low, 1)),
        ["urgent", ..] | ["urgently", ..] | ["important", ..] | ["asap", ..] | ["critical", ..] => {
            Some((Priority::High, 1))
        }
        _ => None,
    }
}

/// Questions ("what have I done?", "what's due today?") are list requests, never commands.
fn is_question(lw: &[&str]) -> bool {
    matches!(
        lw[0],
        "what"
            | "what's"
            | "which"
            | "how"
            | "show"
            | "list"
            | "any"
            | "anything"
            | "is"
            | "are"
            | "do"
            | "did"
            | "have"
    )
}

/// "actually I didn't finish the slides", "I haven't done 3", "the report isn't done".
fn parse_undo_statement(words: &Words, lw: &[&str]) -> Option<Intent> {
    let n = lw.len();
    for prefix in [
        "i didn't finish",
        "i did not finish",
        "i didn't do",
        "i did not do",
        "i haven't finished",
        "i haven't done",
        "i have not finished",
        "i didn't complete",
        "i didn't actually finish",
        "i'm not done with",
        "i am not done with",
        "not done with",
    ] {
        if let Some(k) = starts_with(lw, prefix)
            && k < n
        {
            let mut end = n;
            for tail in ["yet", "after all"] {
                if let Some(p) = find_phrase(lw, tail).filter(|p| *p > k) {
                    end = end.min(p);
                }
            }
            return target(words, k, end).map(|target| Intent::SetDone {
                target,
                done: false,
            });
        }
    }
    for phrase in [
        "is not done",
        "isn't done",
        "is not finished",
        "isn't finished",
        "is not done yet",
        "isn't done yet",
        "wasn't done",
        "is not complete",
    ] {
        if let Some(pos) =
            find_phrase(lw, phrase).filter(|p| *p > 0 && p + phrase.split(' ').count() == n)
        {
            return target(words, 0, pos).map(|target| Intent::SetDone {
                target,
                done: false,
            });
        }
    }
    None
}

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
        "unfinish",
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
            "off",
        ] {
            if let Some(pos) =
                find_phrase(lw, suffix).filter(|p| *p > k && p + suffix.split(' ').count() == n)
            {
                return target(words, k, pos).map(|target| Intent::SetDone { target, done: true });
            }
        }
    }
    for prefix in [
        "i'm done with",
        "i am done with",
        "done with",
        "i finished",
        "i've finished",
        "i have finished",
        "i completed",
        "i've completed",
        "i've done",
        "i have done",
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
            let end = if lw[n - 1] == "off" && k < n - 1 {
                n - 1
            } else {
                n
            };
            return target(words, k, end).map(|target| Intent::SetDone { target, done: true });
        }
    }
    // "3 is done", "the milk one is finished", "milk done"
    for suffix in [
        "is done",
        "is finished",
        "is complete",
        "is completed",
        "is done now",
        "done",
        "finished",
        "completed",
        "complete",
        "as done",
    ] {
        let len = suffix.split(' ').count();
        if n > len && lw[n - len..].join(" ") == suffix {
            return target(words, 0, n - len).map(|target| Intent::SetDone { target, done: true });
        }
    }
    None
}

/// Past tenses people use to say they did something ("I bought the groceries").
const PAST: [&str; 36] = [
    "bought",
    "paid",
    "called",
    "sent",
    "did",
    "cleaned",
    "washed",
    "fixed",
    "booked",
    "emailed",
    "wrote",
    "took",
    "got",
    "picked",
    "mailed",
    "posted",
    "returned",
    "renewed",
    "filed",
    "submitted",
    "ordered",
    "made",
    "cooked",
    "read",
    "watched",
    "walked",
    "fed",
    "visited",
    "replied",
    "answered",
    "texted",
    "phoned",
    "sorted",
    "packed",
    "handed",
    "went",
];

/// "I bought the groceries", "just called mom", "I've paid the rent".
fn parse_claim(words: &Words, lw: &[&str]) -> Option<Intent> {
    let mut k = 0;
    for opener in [
        "i've just",
        "i have just",
        "i just",
        "i've already",
        "i have already",
        "i already",
        "i've finally",
        "i finally",
        "i've",
        "i have",
        "i",
        "just",
        "already",
    ] {
        if let Some(used) = starts_with(lw, opener) {
            k = used;
            break;
        }
    }
    let verb = *lw.get(k)?;
    let past = PAST.contains(&verb) || (k > 0 && verb.ends_with("ed") && verb.len() > 4);
    if !past {
        return None;
    }
    // "i needed ..." / "i wanted ..." are not claims of doing something.
    if matches!(
        verb,
        "needed" | "wanted" | "wondered" | "forgot" | "started"
    ) {
        return None;
    }
    let mut end = lw.len();
    for tail in [
        "today",
        "already",
        "yesterday",
        "just now",
        "earlier",
        "finally",
    ] {
        if let Some(p) = find_phrase(&lw[k + 1..], tail) {
            end = end.min(k + 1 + p);
        }
    }
    // "picked up the kids", "took out the trash": the particle is part of the verb.
    let mut from = k + 1;
    if matches!(
        lw.get(from).copied(),
        Some("up" | "out" | "off" | "back" | "in")
    ) {
        from += 1;
    }
    match target(words, from, end)? {
        Target::Words(w) => Some(Intent::Claim { words: w }),
        _ => None,
    }
}

fn parse_delete_all(lw: &[&str]) -> Option<Intent> {
    let verbs = [
        "delete",
        "remove",
        "clear",
        "purge",
        "erase",
        "wipe",
        "trash",
        "get rid of",
        "clean up",
    ];
    let k = verbs.iter().find_map(|v| starts_with(lw, v))?;
    let rest = &lw[k..];
    let all = rest
        .iter()
        .any(|w| matches!(*w, "all" | "every" | "everything"));
    let completed = rest
        .iter()
        .any(|w| matches!(*w, "completed" | "done" | "finished" | "complete"));
    let plural = rest
        .iter()
        .any(|w| matches!(*w, "tasks" | "everything" | "ones" | "items"));
    if completed && (all || plural || rest.len() <= 2) {
        return Some(Intent::DeleteAll {
            status: Status::Completed,
        });
    }
    if all && (plural || rest.len() <= 2) && !rest.iter().any(|w| w.parse::<i32>().is_ok()) {
        return Some(Intent::DeleteAll {
            status: Status::All,
        });
    }
    None
}

/// "add the tag home to task 1", "add #home to 1", "put the work tag on 3", "tag 3 #work",
/// "tag the report with work".
fn parse_tag_edit(words: &Words, lw: &[&str]) -> Option<Intent> {
    let n = lw.len();
    for prefix in [
        "add the tags",
        "add the tag",
        "add tags",
        "add tag",
        "add label",
        "add the label",
        "put the tag",
        "put tag",
        "add",
        "put",
    ] {
        let Some(k) = starts_with(lw, prefix) else {
            continue;
        };
        let Some(to) = (k + 1..n).find(|&i| matches!(lw[i], "to" | "on" | "onto")) else {
            continue;
        };
        let tag_words: Vec<&str> = lw[k..to]
            .iter()
            .copied()
            .filter(|w| !matches!(*w, "and" | "tag" | "tags" | "the" | "a" | "label"))
            .collect();
        // Plain "add ..." only counts when the tags are #-marked ("add #home to 1").
        let named =
            prefix.contains("tag") || prefix.contains("label") || lw[k..to].contains(&"tag");
        if !named && !tag_words.iter().all(|w| w.starts_with('#')) {
            continue;
        }
        let tags: Vec<String> = tag_words
            .iter()
            .map(|w| w.trim_start_matches('#').to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if tags.is_empty() {
            return None;
        }
        return target(words, to + 1, n).map(|target| Intent::Update {
            target,
            change: Change::AddTags(tags),
        });
    }
    let k = starts_with(lw, "tag")?;
    let hashed: Vec<String> = lw[k..]
        .iter()
        .filter_map(|w| w.strip_prefix('#'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if !hashed.is_empty() {
        let end = lw.iter().position(|w| w.starts_with('#')).unwrap_or(n);
        let end = if end > 0 && matches!(lw[end - 1], "with" | "as") {
            end - 1
        } else {
            end
        };
        return target(words, k, end).map(|target| Intent::Update {
            target,
            change: Change::AddTags(hashed),
        });
    }
    let with = (k..n).find(|&i| lw[i] == "with" || lw[i] == "as")?;
    let tags: Vec<String> = lw[with + 1..]
        .iter()
        .map(|t| t.to_string())
        .filter(|t| !t.is_empty() && *t != "and")
        .collect();
    if tags.is_empty() {
        return None;
    }
    target(words, k, with).map(|target| Intent::Update {
        target,
        change: Change::AddTags(tags),
    })
}

fn parse_delete(words: &Words, lw: &[&str]) -> Option<Intent> {
    for prefix in [
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
        "scrap",
        "bin",
        "kill",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            // "remove the due date from 3" is an update, not a delete.
            if lw[k..].iter().any(|w| *w == "due" || *w == "deadline") {
                return None;
            }
            let mut end = lw.len();
            if end > k + 1 && matches!(lw[end - 1], "task" | "from my list" | "too") {
                end -= 1;
            }
            if let Some(p) = find_phrase(&lw[k..], "from my list") {
                end = k + p;
            }
            return target(words, k, end).map(|target| Intent::Delete { target });
        }
    }
    None
}

fn parse_update(words: &Words, lw: &[&str], clock: &UserClock) -> Option<Intent> {
    let n = lw.len();
    let now = clock.local_now();
    // rename X to Y / change X to Y / update X to Y
    for prefix in [
        "rename",
        "change the title of",
        "change title of",
        "change the name of",
        "change",
        "update",
        "retitle",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            // "change the priority of 3 to high" is handled below.
            if lw[k..].first() == Some(&"the") && lw.get(k + 1) == Some(&"priority")
                || lw.get(k) == Some(&"priority")
            {
                break;
            }
            let to = (k + 1..n).find(|&i| lw[i] == "to")?;
            let rest = &lw[to + 1..];
            let mut tgt_start = k;
            let mut is_due = false;
            for filler in [
                "the due date of",
                "due date of",
                "the date of",
                "the deadline of",
                "deadline of",
                "due date for",
                "the due date for",
            ] {
                if let Some(f) = starts_with(&lw[k..], filler) {
                    tgt_start = k + f;
                    is_due = true;
                }
            }
            if let Some((d, _)) = parse_due(rest, now).filter(|(_, used)| *used == rest.len()) {
                return target(words, tgt_start, to).map(|target| Intent::Update {
                    target,
                    change: Change::Due(Some(d)),
                });
            }
            if is_due {
                return None;
            }
            if let Some((p, _)) = priority_at(rest).filter(|(_, used)| *used == rest.len()) {
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
        "delay",
        "set the due date of",
        "set due date of",
        "set the due date for",
    ] {
        if let Some(k) = starts_with(lw, prefix) {
            let to = (k + 1..n).find(|&i| matches!(lw[i], "to" | "for" | "until" | "till"))?;
            let (d, used) = parse_due(&lw[to + 1..], now)?;
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
        "clear the due date from",
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
                if let Some((p, _)) = priority_at(tail).filter(|(_, used)| *used == tail.len()) {
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
        // "set 5 due tomorrow": the verb is not part of the task's name.
        let from = usize::from(matches!(lw[0], "set" | "make" | "mark") && pos > 1);
        if let Some((d, _)) = parse_due(&lw[after..], now).filter(|(_, u)| after + u == n) {
            return target(words, from, pos).map(|target| Intent::Update {
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
    None
}

fn parse_count(lw: &[&str], clock: &UserClock) -> Option<Intent> {
    let joined = lw.join(" ");
    if !(joined.starts_with("how many")
        || joined.starts_with("count")
        || joined.starts_with("number of"))
    {
        return None;
    }
    let Some(Intent::List(mut filter)) = list_filter(lw, clock, true) else {
        return None;
    };
    if lw.contains(&"left") || joined.contains("to do") {
        filter.status = Status::Pending;
    }
    Some(Intent::Count(filter))
}

const LIST_STARTS: [&str; 21] = [
    "what's",
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
    "my",
    "open",
    "remaining",
    "completed",
    "all",
    "everything",
    "do",
    "get",
];

/// Words that make a question about tasks (without one, "what's the weather" is not a list).
const TASK_WORDS: [&str; 31] = [
    "task",
    "tasks",
    "list",
    "left",
    "due",
    "overdue",
    "pending",
    "done",
    "finished",
    "finish",
    "completed",
    "urgent",
    "important",
    "priority",
    "tagged",
    "tag",
    "open",
    "remaining",
    "outstanding",
    "everything",
    "todo",
    "to-do",
    "agenda",
    "plate",
    "today",
    "tomorrow",
    "week",
    "late",
    "anything",
    "all",
    "next",
];

fn parse_list(lw: &[&str], clock: &UserClock) -> Option<Intent> {
    let joined = lw.join(" ");
    let first = lw[0];
    let asks = LIST_STARTS.contains(&first)
        || joined.contains("my tasks")
        || joined.contains("to do list")
        || joined.contains("todo list")
        || joined.contains("to-do list")
        || (lw.len() == 1 && matches!(first, "done" | "finished" | "tasks"));
    if !asks {
        return None;
    }
    // "what can you do" is help, not a list.
    if joined.starts_with("what can") || joined.starts_with("what do you") {
        return None;
    }
    if !lw
        .iter()
        .any(|w| TASK_WORDS.contains(w) || w.starts_with('#'))
        && lw.len() > 1
    {
        return None;
    }
    list_filter(lw, clock, false)
}

/// The filter a list question asks for.
fn list_filter(lw: &[&str], clock: &UserClock, counting: bool) -> Option<Intent> {
    let joined = lw.join(" ");
    let today = clock.today();
    let mut filter = ListFilter::default();
    let has = |w: &str| lw.contains(&w);
    if has("all") || has("everything") || has("every") {
        filter.status = Status::All;
    }
    // "everything I've finished" is the finished ones: completion wins over "all".
    if has("done")
        || has("completed")
        || has("finished")
        || joined.contains("have i done")
        || joined.contains("did i finish")
        || joined.contains("i've done")
        || joined.contains("ticked off")
    {
        filter.status = Status::Completed;
    }
    if joined.contains("including") || joined.contains("as well as") {
        filter.status = Status::All;
    }
    if has("pending")
        || has("left")
        || has("open")
        || has("remaining")
        || has("outstanding")
        || has("unfinished")
        || joined.contains("not done")
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
    } else if let Some(pos) = lw.iter().position(|w| matches!(*w, "due" | "for" | "on")) {
        if let Some((d, n)) = parse_due(&lw[pos + 1..], clock.local_now())
            && d.time.is_none()
            && pos + 1 + n == lw.len()
        {
            filter.due = Some(DueFilter::On(d.date));
        }
    } else if has("tomorrow") {
        filter.due = Some(DueFilter::On(today + time::Duration::days(1)));
    }
    if let Some(tag) = lw
        .iter()
        .find_map(|w| w.strip_prefix('#'))
        .filter(|t| !t.is_empty())
    {
        filter.tag = Some(tag.to_owned());
    } else if let Some(pos) = lw
        .iter()
        .position(|w| matches!(*w, "tagged" | "tag" | "labelled" | "labeled"))
    {
        filter.tag = lw
            .get(pos + 1)
            .map(|t| t.to_string())
            .filter(|t| !t.is_empty());
    } else if let Some(pos) = lw.iter().position(|w| *w == "tasks" || *w == "stuff")
        && pos > 0
    {
        // "my work tasks", "the shopping stuff": a word before "tasks" that is not a
        // filter word of its own names a tag.
        let w = lw[pos - 1];
        let known = [
            "my",
            "me",
            "us",
            "some",
            "all",
            "the",
            "pending",
            "open",
            "completed",
            "done",
            "finished",
            "remaining",
            "overdue",
            "urgent",
            "important",
            "priority",
            "high",
            "low",
            "medium",
            "many",
            "any",
            "your",
            "our",
            "of",
            "outstanding",
            "unfinished",
            "show",
            "list",
            "today's",
            "todays",
            "current",
            "active",
            "old",
            "new",
            "these",
            "those",
            "other",
            "more",
            "what",
            "which",
        ];
        if !known.contains(&w) && w.chars().all(|c| c.is_alphanumeric() || c == '-') {
            filter.tag = Some(w.to_owned());
        }
    }
    for i in 0..lw.len() {
        if let Some((p, _)) = priority_at(&lw[i..]) {
            filter.priority = Some(p);
            break;
        }
    }
    if let Some(pos) = lw.iter().position(|w| {
        matches!(
            *w,
            "about" | "containing" | "matching" | "mentioning" | "with"
        )
    }) {
        let q = lw[pos + 1..].join(" ");
        let names_tag = matches!(lw.get(pos + 1).copied(), Some("tag" | "tags" | "the"));
        if !q.is_empty() && !names_tag && priority_at(&lw[pos + 1..]).is_none() {
            filter.query = Some(q);
        }
    }
    let _ = counting;
    Some(Intent::List(filter))
}

/// The task named by words `from..to`: a number ("3", "#3", "task 3", "number 3"), "it",
/// "the second one", or title words with fillers removed ("the milk one" -> "milk").
fn target(words: &Words, from: usize, to: usize) -> Option<Target> {
    const FILLERS: [&str; 18] = [
        "the", "a", "my", "task", "tasks", "one", "item", "todo", "number", "no", "#", "as",
        "with", "that", "about", "thing", "title", "name",
    ];
    let lw = words.lower_refs();
    let to = to.min(lw.len());
    if from >= to {
        return None;
    }
    let slice = &lw[from..to];
    if matches!(
        slice,
        ["it"]
            | ["that"]
            | ["this"]
            | ["that", "one"]
            | ["this", "one"]
            | ["that", "task"]
            | ["this", "task"]
            | ["it", "too"]
    ) {
        return Some(Target::It);
    }
    let kept: Vec<usize> = (from..to)
        .filter(|&i| !FILLERS.contains(&lw[i]) && !lw[i].is_empty())
        .collect();
    if kept.is_empty() {
        return None;
    }
    if kept.len() == 1 {
        let w = lw[kept[0]].trim_start_matches('#').trim_end_matches("'s");
        if let Ok(n) = w.parse::<i32>() {
            return (n > 0).then_some(Target::Number(n));
        }
        if let Some(k) = ordinal(w) {
            return Some(Target::Ordinal(k));
        }
    }
    let text: Vec<&str> = kept.iter().map(|&i| words.original[i]).collect();
    let text = clean(&text.join(" "));
    (!text.is_empty()).then_some(Target::Words(text))
}
