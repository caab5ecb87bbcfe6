//! The built-in engine's phrasebook: each utterance, what it means, and the first tool call it
//! leads to. "Today" is Tuesday 2026-11-24.

use serde_json::{Value, json};
use time::macros::date;
use todo_chat::builtin::intent::{Change, DueFilter, Intent, ListFilter, Status, Target, parse};
use todo_chat::builtin::planned_call;
use todo_store::Priority;

/// (utterance, its intent, the first tool call it leads to)
type Row = (&'static str, Intent, Option<(&'static str, Value)>);

const TODAY: time::Date = date!(2026 - 11 - 24);

fn add(title: &str, due: Option<time::Date>, priority: Option<Priority>, tags: &[&str]) -> Intent {
    Intent::Add {
        title: title.into(),
        due,
        priority,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn list(
    status: Status,
    due: Option<DueFilter>,
    tag: Option<&str>,
    priority: Option<Priority>,
    query: Option<&str>,
) -> Intent {
    Intent::List(ListFilter {
        status,
        due,
        tag: tag.map(str::to_owned),
        priority,
        query: query.map(str::to_owned),
    })
}

fn num(n: i32) -> Target {
    Target::Number(n)
}

fn words(w: &str) -> Target {
    Target::Words(w.into())
}

#[test]
fn utterances_map_to_intents_and_tool_calls() {
    use Priority::*;
    let fri = Some(date!(2026 - 11 - 27));
    let tomorrow = Some(date!(2026 - 11 - 25));
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        // add
        ("add buy milk tomorrow high priority", add("buy milk", tomorrow, Some(High), &[]), Some(("add_task", json!({"title": "buy milk", "due": "2026-11-25", "priority": "high"})))),
        ("add call mom friday", add("call mom", fri, None, &[]), Some(("add_task", json!({"title": "call mom", "due": "2026-11-27"})))),
        ("Add Call Mom on Friday", add("Call Mom", fri, None, &[]), Some(("add_task", json!({"title": "Call Mom", "due": "2026-11-27"})))),
        ("add buy milk", add("buy milk", None, None, &[]), Some(("add_task", json!({"title": "buy milk"})))),
        ("add pay rent next friday", add("pay rent", fri, None, &[]), Some(("add_task", json!({"title": "pay rent", "due": "2026-11-27"})))),
        ("add dentist appointment 2026-12-03", add("dentist appointment", Some(date!(2026 - 12 - 03)), None, &[]), Some(("add_task", json!({"title": "dentist appointment", "due": "2026-12-03"})))),
        ("add file taxes due dec 15th #finance", add("file taxes", Some(date!(2026 - 12 - 15)), None, &["finance"]), Some(("add_task", json!({"title": "file taxes", "due": "2026-12-15", "tags": ["finance"]})))),
        ("add water plants today low priority", add("water plants", Some(TODAY), Some(Low), &[]), Some(("add_task", json!({"title": "water plants", "due": "2026-11-24", "priority": "low"})))),
        ("add urgent fix the leak", add("fix the leak", None, Some(High), &[]), Some(("add_task", json!({"title": "fix the leak", "priority": "high"})))),
        ("add book flights in 3 days #travel #family", add("book flights", Some(date!(2026 - 11 - 27)), None, &["travel", "family"]), Some(("add_task", json!({"title": "book flights", "due": "2026-11-27", "tags": ["travel", "family"]})))),
        ("add a task to renew passport by next week", add("renew passport", Some(date!(2026 - 11 - 30)), None, &[]), Some(("add_task", json!({"title": "renew passport", "due": "2026-11-30"})))),
        ("add task: send invoice with high priority", add("send invoice", None, Some(High), &[]), Some(("add_task", json!({"title": "send invoice", "priority": "high"})))),
        ("remind me to call the bank tomorrow", add("call the bank", tomorrow, None, &[]), Some(("add_task", json!({"title": "call the bank", "due": "2026-11-25"})))),
        ("remind me to stretch", add("stretch", None, None, &[]), Some(("add_task", json!({"title": "stretch"})))),
        ("create task review PR priority high", add("review PR", None, Some(High), &[]), Some(("add_task", json!({"title": "review PR", "priority": "high"})))),
        ("new task: buy a gift for Sam sat", add("buy a gift for Sam", Some(date!(2026 - 11 - 28)), None, &[]), Some(("add_task", json!({"title": "buy a gift for Sam", "due": "2026-11-28"})))),
        ("I need to renew the car insurance", add("renew the car insurance", None, None, &[]), Some(("add_task", json!({"title": "renew the car insurance"})))),
        ("add friday standup notes", add("friday standup notes", None, None, &[]), Some(("add_task", json!({"title": "friday standup notes"})))),
        ("add", add("", None, None, &[]), None),
        ("please add take out the trash tonight", add("take out the trash", Some(TODAY), None, &[]), Some(("add_task", json!({"title": "take out the trash", "due": "2026-11-24"})))),
        // list
        ("what's left?", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        ("What’s left", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        ("show my tasks", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        ("list", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        ("show all tasks", list(Status::All, None, None, None, None), Some(("list_tasks", json!({"status": "all"})))),
        ("list everything", list(Status::All, None, None, None, None), Some(("list_tasks", json!({"status": "all"})))),
        ("what have I done?", list(Status::Completed, None, None, None, None), Some(("list_tasks", json!({"status": "completed"})))),
        ("show completed tasks", list(Status::Completed, None, None, None, None), Some(("list_tasks", json!({"status": "completed"})))),
        ("what's due today?", list(Status::Pending, Some(DueFilter::Today), None, None, None), Some(("list_tasks", json!({"status": "pending", "due_before": "2026-11-25"})))),
        ("anything overdue?", list(Status::Pending, Some(DueFilter::Overdue), None, None, None), Some(("list_tasks", json!({"status": "pending", "due_before": "2026-11-24"})))),
        ("show overdue tasks", list(Status::Pending, Some(DueFilter::Overdue), None, None, None), Some(("list_tasks", json!({"status": "pending", "due_before": "2026-11-24"})))),
        ("what's due this week", list(Status::Pending, Some(DueFilter::ThisWeek), None, None, None), Some(("list_tasks", json!({"status": "pending", "due_before": "2026-11-30"})))),
        ("show #shop", list(Status::Pending, None, Some("shop"), None, None), Some(("list_tasks", json!({"status": "pending", "tag": "shop"})))),
        ("list tasks tagged work", list(Status::Pending, None, Some("work"), None, None), Some(("list_tasks", json!({"status": "pending", "tag": "work"})))),
        ("show high priority tasks", list(Status::Pending, None, None, Some(High), None), Some(("list_tasks", json!({"status": "pending", "priority": "high"})))),
        ("which tasks are about milk", list(Status::Pending, None, None, None, Some("milk")), Some(("list_tasks", json!({"status": "pending", "query": "milk"})))),
        ("my todo list", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        ("pending", list(Status::Pending, None, None, None, None), Some(("list_tasks", json!({"status": "pending"})))),
        // complete / undo
        ("done with 3", Intent::SetDone { target: num(3), done: true }, Some(("complete_task", json!({"task_id": 3, "completed": true})))),
        ("done 3", Intent::SetDone { target: num(3), done: true }, Some(("complete_task", json!({"task_id": 3, "completed": true})))),
        ("complete task 4", Intent::SetDone { target: num(4), done: true }, Some(("complete_task", json!({"task_id": 4, "completed": true})))),
        ("finished #5", Intent::SetDone { target: num(5), done: true }, Some(("complete_task", json!({"task_id": 5, "completed": true})))),
        ("mark 2 as done", Intent::SetDone { target: num(2), done: true }, Some(("complete_task", json!({"task_id": 2, "completed": true})))),
        ("mark 2 complete", Intent::SetDone { target: num(2), done: true }, Some(("complete_task", json!({"task_id": 2, "completed": true})))),
        ("3 is done", Intent::SetDone { target: num(3), done: true }, Some(("complete_task", json!({"task_id": 3, "completed": true})))),
        ("check off number 7", Intent::SetDone { target: num(7), done: true }, Some(("complete_task", json!({"task_id": 7, "completed": true})))),
        ("mark the milk one done", Intent::SetDone { target: words("milk"), done: true }, Some(("list_tasks", json!({"query": "milk", "status": "pending"})))),
        ("done with buy milk", Intent::SetDone { target: words("buy milk"), done: true }, Some(("list_tasks", json!({"query": "buy milk", "status": "pending"})))),
        ("I finished the report", Intent::SetDone { target: words("report"), done: true }, Some(("list_tasks", json!({"query": "report", "status": "pending"})))),
        ("the laundry is done", Intent::SetDone { target: words("laundry"), done: true }, Some(("list_tasks", json!({"query": "laundry", "status": "pending"})))),
        ("undo 3", Intent::SetDone { target: num(3), done: false }, Some(("complete_task", json!({"task_id": 3, "completed": false})))),
        ("reopen task 6", Intent::SetDone { target: num(6), done: false }, Some(("complete_task", json!({"task_id": 6, "completed": false})))),
        ("mark 3 as not done", Intent::SetDone { target: num(3), done: false }, Some(("complete_task", json!({"task_id": 3, "completed": false})))),
        ("3 is not done", Intent::SetDone { target: num(3), done: false }, Some(("complete_task", json!({"task_id": 3, "completed": false})))),
        ("reopen the milk one", Intent::SetDone { target: words("milk"), done: false }, Some(("list_tasks", json!({"query": "milk", "status": "completed"})))),
        // delete
        ("delete 3", Intent::Delete { target: num(3) }, Some(("delete_task", json!({"task_id": 3})))),
        ("delete task #8", Intent::Delete { target: num(8) }, Some(("delete_task", json!({"task_id": 8})))),
        ("remove the gym task", Intent::Delete { target: words("gym") }, Some(("list_tasks", json!({"query": "gym", "status": "all"})))),
        ("get rid of 2", Intent::Delete { target: num(2) }, Some(("delete_task", json!({"task_id": 2})))),
        ("cancel the dentist appointment", Intent::Delete { target: words("dentist appointment") }, Some(("list_tasks", json!({"query": "dentist appointment", "status": "all"})))),
        // update
        ("rename 3 to buy oat milk", Intent::Update { target: num(3), change: Change::Title("buy oat milk".into()) }, Some(("update_task", json!({"task_id": 3, "title": "buy oat milk"})))),
        ("rename the milk one to Buy Oat Milk", Intent::Update { target: words("milk"), change: Change::Title("Buy Oat Milk".into()) }, Some(("list_tasks", json!({"query": "milk", "status": "all"})))),
        ("change 4 to call dad", Intent::Update { target: num(4), change: Change::Title("call dad".into()) }, Some(("update_task", json!({"task_id": 4, "title": "call dad"})))),
        ("move 3 to friday", Intent::Update { target: num(3), change: Change::Due(fri) }, Some(("update_task", json!({"task_id": 3, "due": "2026-11-27"})))),
        ("reschedule task 2 for tomorrow", Intent::Update { target: num(2), change: Change::Due(tomorrow) }, Some(("update_task", json!({"task_id": 2, "due": "2026-11-25"})))),
        ("change the due date of 5 to dec 1", Intent::Update { target: num(5), change: Change::Due(Some(date!(2026 - 12 - 01))) }, Some(("update_task", json!({"task_id": 5, "due": "2026-12-01"})))),
        ("3 is due friday", Intent::Update { target: num(3), change: Change::Due(fri) }, Some(("update_task", json!({"task_id": 3, "due": "2026-11-27"})))),
        ("remove the due date from 3", Intent::Update { target: num(3), change: Change::Due(None) }, Some(("update_task", json!({"task_id": 3, "due": null})))),
        ("make 3 high priority", Intent::Update { target: num(3), change: Change::Priority(High) }, Some(("update_task", json!({"task_id": 3, "priority": "high"})))),
        ("set 2 to low priority", Intent::Update { target: num(2), change: Change::Priority(Low) }, Some(("update_task", json!({"task_id": 2, "priority": "low"})))),
        ("prioritize 6", Intent::Update { target: num(6), change: Change::Priority(High) }, Some(("update_task", json!({"task_id": 6, "priority": "high"})))),
        ("set the priority of 4 to medium", Intent::Update { target: num(4), change: Change::Priority(Medium) }, Some(("update_task", json!({"task_id": 4, "priority": "medium"})))),
        ("3 is urgent", Intent::Update { target: num(3), change: Change::Priority(High) }, Some(("update_task", json!({"task_id": 3, "priority": "high"})))),
        ("tag 3 #work", Intent::Update { target: num(3), change: Change::AddTags(vec!["work".into()]) }, Some(("update_task", json!({"task_id": 3, "tags": ["work"]})))),
        ("tag the report with work", Intent::Update { target: words("report"), change: Change::AddTags(vec!["work".into()]) }, Some(("list_tasks", json!({"query": "report", "status": "all"})))),
        // help, greetings, nonsense
        ("help", Intent::Help, None),
        ("what can you do?", Intent::Help, None),
        ("hi", Intent::Greeting, None),
        ("thanks!", Intent::Greeting, None),
        ("the weather is nice", Intent::Unknown, None),
        ("", Intent::Unknown, None),
        ("delete", Intent::Unknown, None),
    ];
    assert!(table.len() >= 60, "{} utterances", table.len());
    let mut failures = Vec::new();
    for (utterance, expected_intent, expected_call) in &table {
        let intent = parse(utterance, TODAY);
        let call = planned_call(&intent, TODAY).map(|(tool, args)| (tool.to_owned(), args));
        let expected_call = expected_call.clone().map(|(t, a)| (t.to_owned(), a));
        if &intent != expected_intent || call != expected_call {
            failures.push(format!("{utterance:?}\n   intent {intent:?}\n   wanted {expected_intent:?}\n   call   {call:?}\n   wanted {expected_call:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} utterances wrong:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}
