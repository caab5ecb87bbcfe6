//! The built-in engine's phrasebook: how people really type (questions, statements, typos,
//! politeness, several intents in one message), each with the user's time zone and what the
//! engine must do: the first tool call it makes, or (when it must not call anything) what its
//! reply says. "Now" is Tuesday 2026-11-24 10:00 on the user's own wall clock, in each zone.
//!
//! Every row must pass; the test prints the table's size and score.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::time::Duration;
use time::macros::{date, time};
use todo_chat::builtin::{BuiltinEngine, intent::parse, planned_call};
use todo_chat::{ChatEngine, ConversationState, McpClient, ToolRunner, Turn, UserClock};

const Z: &str = "UTC";
const LA: &str = "America/Los_Angeles";
const AK: &str = "Pacific/Auckland";
const IN: &str = "Asia/Kolkata";

/// Each zone's UTC offset in late November 2026, written out independently of the tz code.
fn offset(zone: &str) -> &'static str {
    match zone {
        LA => "-08:00",
        AK => "+13:00",
        IN => "+05:30",
        _ => "Z",
    }
}

/// A date-only due date: the start of that local day.
fn day(zone: &str, date: &str) -> String {
    format!("{date}T00:00:00{}", offset(zone))
}

/// A local date-time due.
fn at(zone: &str, local: &str) -> String {
    format!("{local}{}", offset(zone))
}

enum Expect {
    /// The first tool call: its name and arguments (given the zone).
    Call(&'static str, fn(&str) -> Value),
    /// No tool call; the reply contains this.
    Says(&'static str),
}

fn call(tool: &'static str, args: fn(&str) -> Value) -> Expect {
    Expect::Call(tool, args)
}

fn says(text: &'static str) -> Expect {
    Expect::Says(text)
}

/// 10:00 on Tuesday 2026-11-24 in `zone`.
pub fn clock(zone: &str) -> UserClock {
    let probe = UserClock::new(zone, time::OffsetDateTime::UNIX_EPOCH).unwrap();
    let now = probe.instant(date!(2026 - 11 - 24), time!(10:00));
    UserClock::new(zone, now).unwrap()
}

fn table() -> Vec<(&'static str, &'static str, Expect)> {
    #[rustfmt::skip]
    let rows = vec![
        (Z, "add buy milk tomorrow high priority", call("add_task", |z| json!({"title": "buy milk", "due": day(z, "2026-11-25"), "priority": "high"}))),
        (LA, "add call mom friday", call("add_task", |z| json!({"title": "call mom", "due": day(z, "2026-11-27")}))),
        (AK, "Add Call Mom on Friday", call("add_task", |z| json!({"title": "Call Mom", "due": day(z, "2026-11-27")}))),
        (Z, "add buy milk", call("add_task", |_| json!({"title": "buy milk"}))),
        (IN, "add pay rent next friday", call("add_task", |z| json!({"title": "pay rent", "due": day(z, "2026-11-27")}))),
        (Z, "add dentist appointment 2026-12-03", call("add_task", |z| json!({"title": "dentist appointment", "due": day(z, "2026-12-03")}))),
        (LA, "add file taxes due dec 15th #finance", call("add_task", |z| json!({"title": "file taxes", "due": day(z, "2026-12-15"), "tags": ["finance"]}))),
        (Z, "add water plants today low priority", call("add_task", |z| json!({"title": "water plants", "due": day(z, "2026-11-24"), "priority": "low"}))),
        (Z, "add urgent fix the leak", call("add_task", |_| json!({"title": "fix the leak", "priority": "high"}))),
        (AK, "add book flights in 3 days #travel #family", call("add_task", |z| json!({"title": "book flights", "due": day(z, "2026-11-27"), "tags": ["travel", "family"]}))),
        (Z, "add a task to renew passport by next week", call("add_task", |z| json!({"title": "renew passport", "due": day(z, "2026-11-30")}))),
        (Z, "add task: send invoice with high priority", call("add_task", |_| json!({"title": "send invoice", "priority": "high"}))),
        (LA, "remind me to call the bank tomorrow", call("add_task", |z| json!({"title": "call the bank", "due": day(z, "2026-11-25")}))),
        (Z, "remind me to stretch", call("add_task", |_| json!({"title": "stretch"}))),
        (Z, "create task review PR priority high", call("add_task", |_| json!({"title": "review PR", "priority": "high"}))),
        (IN, "new task: buy a gift for Sam sat", call("add_task", |z| json!({"title": "buy a gift for Sam", "due": day(z, "2026-11-28")}))),
        (Z, "I need to renew the car insurance", call("add_task", |_| json!({"title": "renew the car insurance"}))),
        (Z, "add friday standup notes", call("add_task", |_| json!({"title": "friday standup notes"}))),
        (Z, "add", says("What should the task be")),
        (LA, "please add take out the trash tonight", call("add_task", |z| json!({"title": "take out the trash", "due": day(z, "2026-11-24")}))),
        (Z, "add finish slides for monday, it's important", call("add_task", |z| json!({"title": "finish slides", "due": day(z, "2026-11-30"), "priority": "high"}))),
        (LA, "add finish slides for monday, it's very important", call("add_task", |z| json!({"title": "finish slides", "due": day(z, "2026-11-30"), "priority": "high"}))),
        (Z, "add call plumber high", call("add_task", |_| json!({"title": "call plumber", "priority": "high"}))),
        (LA, "add call plumber at 5pm tomorrow", call("add_task", |z| json!({"title": "call plumber", "due": at(z, "2026-11-25T17:00:00")}))),
        (AK, "add pay the nanny on the 15th", call("add_task", |z| json!({"title": "pay the nanny", "due": day(z, "2026-12-15")}))),
        (IN, "add pay rent next month", call("add_task", |z| json!({"title": "pay rent", "due": day(z, "2026-12-01")}))),
        (Z, "add dinner with Sam tomorrow at 7pm", call("add_task", |z| json!({"title": "dinner with Sam", "due": at(z, "2026-11-25T19:00:00")}))),
        (LA, "new: water the plants", call("add_task", |_| json!({"title": "water the plants"}))),
        (Z, "new task buy stamps", call("add_task", |_| json!({"title": "buy stamps"}))),
        (Z, "add gym at 6:30am tomorrow", call("add_task", |z| json!({"title": "gym", "due": at(z, "2026-11-25T06:30:00")}))),
        (IN, "add standup at 9am", call("add_task", |z| json!({"title": "standup", "due": at(z, "2026-11-25T09:00:00")}))),
        (IN, "add call with client at 5pm", call("add_task", |z| json!({"title": "call with client", "due": at(z, "2026-11-24T17:00:00")}))),
        (Z, "add submit report by friday, urgent", call("add_task", |z| json!({"title": "submit report", "due": day(z, "2026-11-27"), "priority": "high"}))),
        (Z, "add buy milk and eggs", call("add_task", |_| json!({"title": "buy milk and eggs"}))),
        (LA, "add renew license in 2 weeks", call("add_task", |z| json!({"title": "renew license", "due": day(z, "2026-12-08")}))),
        (Z, "add pick up dry cleaning this weekend", call("add_task", |z| json!({"title": "pick up dry cleaning", "due": day(z, "2026-11-28")}))),
        (Z, "add a new task: mow the lawn", call("add_task", |_| json!({"title": "mow the lawn"}))),
        (Z, "Please add 'call grandma' for sunday", call("add_task", |z| json!({"title": "call grandma", "due": day(z, "2026-11-29")}))),
        (Z, "todo: fix bike", call("add_task", |_| json!({"title": "fix bike"}))),
        (Z, "don't forget to email Anna tomorrow", call("add_task", |z| json!({"title": "email Anna", "due": day(z, "2026-11-25")}))),
        (AK, "add call the vet tmrw", call("add_task", |z| json!({"title": "call the vet", "due": day(z, "2026-11-25")}))),
        (Z, "add buy bread 2moro", call("add_task", |z| json!({"title": "buy bread", "due": day(z, "2026-11-25")}))),
        (Z, "can you add book a haircut for next tuesday please", call("add_task", |z| json!({"title": "book a haircut", "due": day(z, "2026-12-01")}))),
        (Z, "add laundry day after tomorrow", call("add_task", |z| json!({"title": "laundry", "due": day(z, "2026-11-26")}))),
        (LA, "add low priority clean garage", call("add_task", |_| json!({"title": "clean garage", "priority": "low"}))),
        (Z, "add call plumber asap", call("add_task", |_| json!({"title": "call plumber", "priority": "high"}))),
        (Z, "i have to call the landlord on monday", call("add_task", |z| json!({"title": "call the landlord", "due": day(z, "2026-11-30")}))),
        (Z, "add meeting notes #work #q4", call("add_task", |_| json!({"title": "meeting notes", "tags": ["work", "q4"]}))),
        (IN, "add yoga at noon", call("add_task", |z| json!({"title": "yoga", "due": at(z, "2026-11-24T12:00:00")}))),
        (Z, "remind me to take meds at 8pm", call("add_task", |z| json!({"title": "take meds", "due": at(z, "2026-11-24T20:00:00")}))),
        (AK, "add team lunch friday at 12:30", call("add_task", |z| json!({"title": "team lunch", "due": at(z, "2026-11-27T12:30:00")}))),
        (LA, "hey, could you add renew my gym membership next month?", call("add_task", |z| json!({"title": "renew my gym membership", "due": day(z, "2026-12-01")}))),
        (IN, "add pay electricity bill on the 30th", call("add_task", |z| json!({"title": "pay electricity bill", "due": day(z, "2026-11-30")}))),
        (Z, "add water the garden in 1 month", call("add_task", |z| json!({"title": "water the garden", "due": day(z, "2026-12-24")}))),
        (Z, "add book club tomorrow 6pm", call("add_task", |z| json!({"title": "book club", "due": at(z, "2026-11-25T18:00:00")}))),
        (Z, "add the tag home to task 1", call("get_task", |_| json!({"task_id": 1}))),
        (Z, "add tag work to 3", call("get_task", |_| json!({"task_id": 3}))),
        (Z, "add #home to 1", call("get_task", |_| json!({"task_id": 1}))),
        (Z, "tag 3 #work", call("get_task", |_| json!({"task_id": 3}))),
        (Z, "tag the report with work", call("list_tasks", |_| json!({"query": "report", "status": "all", "limit": 10}))),
        (Z, "put the urgent tag on 4", call("get_task", |_| json!({"task_id": 4}))),
        (Z, "add the tags home and garden to task 2", call("get_task", |_| json!({"task_id": 2}))),
        (Z, "please add the label errands to 5", call("get_task", |_| json!({"task_id": 5}))),
        (Z, "what's left?", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "What’s left", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "show my tasks", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "list", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "show all tasks", call("list_tasks", |_| json!({"status": "all"}))),
        (Z, "list everything", call("list_tasks", |_| json!({"status": "all"}))),
        (Z, "what have I done?", call("list_tasks", |_| json!({"status": "completed"}))),
        (Z, "show completed tasks", call("list_tasks", |_| json!({"status": "completed"}))),
        (LA, "what's due today?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-25"), "limit": 200}))),
        (AK, "anything overdue?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24")}))),
        (Z, "show overdue tasks", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24")}))),
        (IN, "what's due this week", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-30")}))),
        (Z, "show #shop", call("list_tasks", |_| json!({"status": "pending", "tag": "shop"}))),
        (Z, "list tasks tagged work", call("list_tasks", |_| json!({"status": "pending", "tag": "work"}))),
        (Z, "show high priority tasks", call("list_tasks", |_| json!({"status": "pending", "priority": "high"}))),
        (Z, "which tasks are about milk", call("list_tasks", |_| json!({"status": "pending", "query": "milk"}))),
        (Z, "my todo list", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "pending", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "list my work tasks", call("list_tasks", |_| json!({"status": "pending", "tag": "work"}))),
        (LA, "show tasks due tomorrow", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-26"), "limit": 200}))),
        (Z, "show me everything I've finished", call("list_tasks", |_| json!({"status": "completed"}))),
        (AK, "what's due tomorrow?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-26"), "limit": 200}))),
        (IN, "what do I have tomorrow?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-26"), "limit": 200}))),
        (Z, "show me tasks for friday", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-28"), "limit": 200}))),
        (Z, "do I have anything urgent?", call("list_tasks", |_| json!({"status": "pending", "priority": "high"}))),
        (Z, "anything urgent?", call("list_tasks", |_| json!({"status": "pending", "priority": "high"}))),
        (Z, "any important tasks?", call("list_tasks", |_| json!({"status": "pending", "priority": "high"}))),
        (Z, "show low priority stuff", call("list_tasks", |_| json!({"status": "pending", "priority": "low"}))),
        (LA, "what's on my plate today", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-25"), "limit": 200}))),
        (Z, "show my tsks", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "lsit my tasks", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "whats overdue", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24")}))),
        (Z, "show finished tasks", call("list_tasks", |_| json!({"status": "completed"}))),
        (Z, "show everything", call("list_tasks", |_| json!({"status": "all"}))),
        (Z, "list all my tasks including done ones", call("list_tasks", |_| json!({"status": "all"}))),
        (Z, "show tasks tagged #home", call("list_tasks", |_| json!({"status": "pending", "tag": "home"}))),
        (Z, "what's left for this week?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-30")}))),
        (Z, "what did I finish?", call("list_tasks", |_| json!({"status": "completed"}))),
        (Z, "tasks", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "todos", call("list_tasks", |_| json!({"status": "pending"}))),
        (Z, "my tasks please", call("list_tasks", |_| json!({"status": "pending"}))),
        (LA, "can you show me my home tasks?", call("list_tasks", |_| json!({"status": "pending", "tag": "home"}))),
        (Z, "what's still open?", call("list_tasks", |_| json!({"status": "pending"}))),
        (AK, "what is due on monday", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-12-01"), "limit": 200}))),
        (Z, "how many tasks do I have?", call("list_tasks", |_| json!({"status": "pending", "limit": 1}))),
        (Z, "how many tasks are left", call("list_tasks", |_| json!({"status": "pending", "limit": 1}))),
        (Z, "how many have I completed?", call("list_tasks", |_| json!({"status": "completed", "limit": 1}))),
        (Z, "how many overdue tasks", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24"), "limit": 1}))),
        (LA, "how many tasks do i have due today", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-25"), "limit": 200}))),
        (Z, "count my work tasks", call("list_tasks", |_| json!({"status": "pending", "tag": "work", "limit": 1}))),
        (Z, "how many tsks do i have", call("list_tasks", |_| json!({"status": "pending", "limit": 1}))),
        (Z, "done with 3", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "done 3", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "complete task 4", call("complete_task", |_| json!({"task_id": 4, "completed": true}))),
        (Z, "finished #5", call("complete_task", |_| json!({"task_id": 5, "completed": true}))),
        (Z, "mark 2 as done", call("complete_task", |_| json!({"task_id": 2, "completed": true}))),
        (Z, "mark 2 complete", call("complete_task", |_| json!({"task_id": 2, "completed": true}))),
        (Z, "3 is done", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "check off number 7", call("complete_task", |_| json!({"task_id": 7, "completed": true}))),
        (Z, "mark the milk one done", call("list_tasks", |_| json!({"query": "milk", "status": "pending", "limit": 10}))),
        (Z, "done with buy milk", call("list_tasks", |_| json!({"query": "buy milk", "status": "pending", "limit": 10}))),
        (Z, "I finished the report", call("list_tasks", |_| json!({"query": "report", "status": "pending", "limit": 10}))),
        (Z, "the laundry is done", call("list_tasks", |_| json!({"query": "laundry", "status": "pending", "limit": 10}))),
        (Z, "task 3 is finished", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "please mark 4 as done thanks", call("complete_task", |_| json!({"task_id": 4, "completed": true}))),
        (Z, "mark #6 as completed", call("complete_task", |_| json!({"task_id": 6, "completed": true}))),
        (Z, "tick off 2", call("complete_task", |_| json!({"task_id": 2, "completed": true}))),
        (Z, "I'm done with 9", call("complete_task", |_| json!({"task_id": 9, "completed": true}))),
        (Z, "i've finished the slides", call("list_tasks", |_| json!({"query": "slides", "status": "pending", "limit": 10}))),
        (Z, "could you mark 12 done please?", call("complete_task", |_| json!({"task_id": 12, "completed": true}))),
        (Z, "undo 3", call("complete_task", |_| json!({"task_id": 3, "completed": false}))),
        (Z, "reopen task 6", call("complete_task", |_| json!({"task_id": 6, "completed": false}))),
        (Z, "mark 3 as not done", call("complete_task", |_| json!({"task_id": 3, "completed": false}))),
        (Z, "3 is not done", call("complete_task", |_| json!({"task_id": 3, "completed": false}))),
        (Z, "reopen the milk one", call("list_tasks", |_| json!({"query": "milk", "status": "completed", "limit": 10}))),
        (Z, "actually I didn't finish the slides", call("list_tasks", |_| json!({"query": "slides", "status": "completed", "limit": 10}))),
        (Z, "oops, 5 isn't done", call("complete_task", |_| json!({"task_id": 5, "completed": false}))),
        (Z, "I haven't done 2 yet", call("complete_task", |_| json!({"task_id": 2, "completed": false}))),
        (Z, "mark 4 as unfinished", call("complete_task", |_| json!({"task_id": 4, "completed": false}))),
        (Z, "uncheck 8", call("complete_task", |_| json!({"task_id": 8, "completed": false}))),
        (Z, "wait, i didnt finish the report", call("list_tasks", |_| json!({"query": "report", "status": "completed", "limit": 10}))),
        (Z, "I bought the groceries", call("list_tasks", |_| json!({"query": "groceries", "status": "pending", "limit": 10}))),
        (Z, "I called mom", call("list_tasks", |_| json!({"query": "mom", "status": "pending", "limit": 10}))),
        (Z, "just paid the rent", call("list_tasks", |_| json!({"query": "rent", "status": "pending", "limit": 10}))),
        (Z, "I've sent the invoice", call("list_tasks", |_| json!({"query": "invoice", "status": "pending", "limit": 10}))),
        (Z, "I picked up the kids", call("list_tasks", |_| json!({"query": "kids", "status": "pending", "limit": 10}))),
        (Z, "i cleaned the kitchen today", call("list_tasks", |_| json!({"query": "kitchen", "status": "pending", "limit": 10}))),
        (Z, "I booked the flights", call("list_tasks", |_| json!({"query": "flights", "status": "pending", "limit": 10}))),
        (Z, "I took out the trash", call("list_tasks", |_| json!({"query": "trash", "status": "pending", "limit": 10}))),
        (Z, "I emailed Anna", call("list_tasks", |_| json!({"query": "Anna", "status": "pending", "limit": 10}))),
        (Z, "I fixed the bike already", call("list_tasks", |_| json!({"query": "bike", "status": "pending", "limit": 10}))),
        (Z, "delete 3", call("delete_task", |_| json!({"task_id": 3}))),
        (Z, "delete task #8", call("delete_task", |_| json!({"task_id": 8}))),
        (Z, "remove the gym task", call("list_tasks", |_| json!({"query": "gym", "status": "all", "limit": 10}))),
        (Z, "get rid of 2", call("delete_task", |_| json!({"task_id": 2}))),
        (Z, "cancel the dentist appointment", call("list_tasks", |_| json!({"query": "dentist appointment", "status": "all", "limit": 10}))),
        (Z, "please delete 4", call("delete_task", |_| json!({"task_id": 4}))),
        (Z, "can you remove task 7", call("delete_task", |_| json!({"task_id": 7}))),
        (Z, "forget about the party", call("list_tasks", |_| json!({"query": "party", "status": "all", "limit": 10}))),
        (Z, "dlete 3", call("delete_task", |_| json!({"task_id": 3}))),
        (Z, "delete the milk task", call("list_tasks", |_| json!({"query": "milk", "status": "all", "limit": 10}))),
        (Z, "remove 5 from my list", call("delete_task", |_| json!({"task_id": 5}))),
        (Z, "remove all completed tasks", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "delete all done tasks", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "clear completed", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "delete everything I've finished", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "get rid of all the finished ones", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "delete all my tasks", call("list_tasks", |_| json!({"status": "all", "limit": 200}))),
        (Z, "clear all tasks", call("list_tasks", |_| json!({"status": "all", "limit": 200}))),
        (Z, "rename 3 to buy oat milk", call("update_task", |_| json!({"task_id": 3, "title": "buy oat milk"}))),
        (Z, "rename the milk one to Buy Oat Milk", call("list_tasks", |_| json!({"query": "milk", "status": "all", "limit": 10}))),
        (Z, "change 4 to call dad", call("update_task", |_| json!({"task_id": 4, "title": "call dad"}))),
        (LA, "move 3 to friday", call("update_task", |z| json!({"task_id": 3, "due": day(z, "2026-11-27")}))),
        (AK, "reschedule task 2 for tomorrow", call("update_task", |z| json!({"task_id": 2, "due": day(z, "2026-11-25")}))),
        (Z, "change the due date of 5 to dec 1", call("update_task", |z| json!({"task_id": 5, "due": day(z, "2026-12-01")}))),
        (IN, "3 is due friday", call("update_task", |z| json!({"task_id": 3, "due": day(z, "2026-11-27")}))),
        (Z, "remove the due date from 3", call("update_task", |_| json!({"task_id": 3, "due": null}))),
        (Z, "make 3 high priority", call("update_task", |_| json!({"task_id": 3, "priority": "high"}))),
        (Z, "set 2 to low priority", call("update_task", |_| json!({"task_id": 2, "priority": "low"}))),
        (Z, "prioritize 6", call("update_task", |_| json!({"task_id": 6, "priority": "high"}))),
        (Z, "set the priority of 4 to medium", call("update_task", |_| json!({"task_id": 4, "priority": "medium"}))),
        (Z, "3 is urgent", call("update_task", |_| json!({"task_id": 3, "priority": "high"}))),
        (LA, "move 3 to tomorrow at 5pm", call("update_task", |z| json!({"task_id": 3, "due": at(z, "2026-11-25T17:00:00")}))),
        (IN, "push 2 to next month", call("update_task", |z| json!({"task_id": 2, "due": day(z, "2026-12-01")}))),
        (AK, "move the dentist to the 15th", call("list_tasks", |_| json!({"query": "dentist", "status": "all", "limit": 10}))),
        (Z, "postpone 4 until monday", call("update_task", |z| json!({"task_id": 4, "due": day(z, "2026-11-30")}))),
        (Z, "change 3 to tmrw", call("update_task", |z| json!({"task_id": 3, "due": day(z, "2026-11-25")}))),
        (Z, "make task 5 urgent", call("update_task", |_| json!({"task_id": 5, "priority": "high"}))),
        (LA, "task 7 is due at 9pm", call("update_task", |z| json!({"task_id": 7, "due": at(z, "2026-11-24T21:00:00")}))),
        (Z, "clear the due date of 2", call("update_task", |_| json!({"task_id": 2, "due": null}))),
        (Z, "delete it", says("Which task do you mean")),
        (Z, "the second one", says("Which task do you mean")),
        (Z, "yes", says("nothing waiting")),
        (Z, "no", says("nothing waiting")),
        (Z, "yes please", says("nothing waiting")),
        (Z, "3", says("What should I do with #3")),
        (Z, "what's the weather", says("only help with your tasks")),
        (Z, "what's the weather like tomorrow?", says("only help with your tasks")),
        (Z, "tell me a joke", says("only help with your tasks")),
        (Z, "who won the football game", says("only help with your tasks")),
        (Z, "what time is it", says("only help with your tasks")),
        (Z, "who are you?", says("only help with your tasks")),
        (Z, "what's the capital of France", says("only help with your tasks")),
        (Z, "the weather is nice", says("only help with your tasks")),
        (Z, "help", says("I can manage your tasks")),
        (Z, "what can you do?", says("I can manage your tasks")),
        (Z, "how does this work?", says("I can manage your tasks")),
        (Z, "asdfgh", says("didn't understand")),
        (Z, "delete", says("didn't understand")),
        (Z, "banana", says("didn't understand")),
        (Z, "i like turtles", says("didn't understand")),
        (LA, "buy milk tomorrow", says("Should I add “buy milk” (due tomorrow) as a task? (yes/no)")),
        (Z, "call mom at 6pm", says("Should I add “call mom” (due today 18:00) as a task?")),
        (IN, "pay the electricity bill, urgent", says("Should I add “pay the electricity bill” (high priority) as a task?")),
        (Z, "buy what?", says("didn't understand")),
        (Z, "hi", says("Hi!")),
        (Z, "hello there", says("Hi!")),
        (Z, "thanks!", says("You're welcome")),
        (Z, "thank you so much", says("You're welcome")),
        (Z, "add buy milk and show my tasks", call("add_task", |_| json!({"title": "buy milk"}))),
        (Z, "add call mom; add call dad", call("add_task", |_| json!({"title": "call mom"}))),
        (Z, "mark 3 done then delete 4", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "delete 2 and delete 5", call("delete_task", |_| json!({"task_id": 2}))),
        (LA, "show overdue and add call the bank tomorrow", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24")}))),

        // Written after the engine, then run unchanged (32 of 40 right at first; the
        // misses were fixed in the engine, not here, except "next wednesday": see dates.rs).
        (Z, "add get haircut next wednesday", call("add_task", |z| json!({"title": "get haircut", "due": day(z, "2026-11-25")}))),
        (LA, "could you please remind me to send the contract by thursday 3pm", call("add_task", |z| json!({"title": "send the contract", "due": at(z, "2026-11-26T15:00:00")}))),
        (Z, "add task call insurance company, high priority", call("add_task", |_| json!({"title": "call insurance company", "priority": "high"}))),
        (AK, "put buy wine on my list for saturday", call("add_task", |z| json!({"title": "buy wine", "due": day(z, "2026-11-28")}))),
        (Z, "add 'prepare slides' due 2026-12-10 #work", call("add_task", |z| json!({"title": "prepare slides", "due": day(z, "2026-12-10"), "tags": ["work"]}))),
        (Z, "remind me tomorrow morning to water the plants", call("add_task", |z| json!({"title": "water the plants", "due": day(z, "2026-11-25")}))),
        (IN, "add dentist appt on dec 3 at 4:30pm", call("add_task", |z| json!({"title": "dentist appt", "due": at(z, "2026-12-03T16:30:00")}))),
        (Z, "what do i need to do today", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-25"), "limit": 200}))),
        (Z, "what's overdue?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24")}))),
        (Z, "show me my high priority stuff", call("list_tasks", |_| json!({"status": "pending", "priority": "high"}))),
        (Z, "list tasks with tag errands", call("list_tasks", |_| json!({"status": "pending", "tag": "errands"}))),
        (LA, "anything due friday?", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-28"), "limit": 200}))),
        (Z, "what have i completed so far", call("list_tasks", |_| json!({"status": "completed"}))),
        (Z, "how many things are overdue", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-24"), "limit": 1}))),
        (Z, "i'm done with the laundry", call("list_tasks", |_| json!({"query": "laundry", "status": "pending", "limit": 10}))),
        (Z, "finished task 2", call("complete_task", |_| json!({"task_id": 2, "completed": true}))),
        (Z, "mark number 3 as complete please", call("complete_task", |_| json!({"task_id": 3, "completed": true}))),
        (Z, "I walked the dog", call("list_tasks", |_| json!({"query": "dog", "status": "pending", "limit": 10}))),
        (Z, "i already paid the electricity bill", call("list_tasks", |_| json!({"query": "electricity bill", "status": "pending", "limit": 10}))),
        (Z, "oh wait I haven't finished the report yet", call("list_tasks", |_| json!({"query": "report", "status": "completed", "limit": 10}))),
        (Z, "please get rid of task 4", call("delete_task", |_| json!({"task_id": 4}))),
        (Z, "delete the task about the dentist", call("list_tasks", |_| json!({"query": "dentist", "status": "all", "limit": 10}))),
        (Z, "wipe all completed", call("list_tasks", |_| json!({"status": "completed", "limit": 200}))),
        (Z, "change task 2's title to call grandma", call("update_task", |_| json!({"task_id": 2, "title": "call grandma"}))),
        (LA, "move the report to next monday", call("list_tasks", |_| json!({"query": "report", "status": "all", "limit": 10}))),
        (Z, "make the milk one low priority", call("list_tasks", |_| json!({"query": "milk", "status": "all", "limit": 10}))),
        (Z, "tag 4 as home", call("get_task", |_| json!({"task_id": 4}))),
        (Z, "add the work tag to task 6", call("get_task", |_| json!({"task_id": 6}))),
        (Z, "will it rain tomorrow?", says("only help with your tasks")),
        (Z, "tell me something funny", says("didn't understand")),
        (Z, "what can i say?", says("I can manage your tasks")),
        (Z, "yep", says("nothing waiting")),
        (Z, "nah", says("nothing waiting")),
        (Z, "the first one", says("Which task do you mean")),
        (Z, "delete that", says("Which task do you mean")),
        (Z, "show tsks due tmrw", call("list_tasks", |z| json!({"status": "pending", "due_before": day(z, "2026-11-26"), "limit": 200}))),
        (Z, "add buy milk then show my list", call("add_task", |_| json!({"title": "buy milk"}))),
        (Z, "mark 2 done and mark 3 done", call("complete_task", |_| json!({"task_id": 2, "completed": true}))),
        (Z, "hey there", says("Hi!")),
        (Z, "set 5 due tomorrow", call("update_task", |z| json!({"task_id": 5, "due": day(z, "2026-11-25")}))),

    ];
    rows
}

#[tokio::test]
async fn the_engine_does_what_each_utterance_means() {
    // Rows that must not call a tool run the engine for real; a call would fail loudly, as
    // nothing listens at this address.
    let mcp = McpClient::new("http://127.0.0.1:9/mcp".to_owned(), Duration::from_secs(2)).unwrap();
    let table = table();
    assert!(table.len() >= 200, "{} utterances", table.len());
    let mut failures = Vec::new();
    for (zone, utterance, expect) in &table {
        let clock = clock(zone);
        let intent = parse(utterance, &clock);
        let planned = planned_call(&intent, &clock).map(|(tool, args)| (tool.to_owned(), args));
        match expect {
            Expect::Call(tool, args) => {
                let wanted = Some(((*tool).to_owned(), args(zone)));
                if planned != wanted {
                    failures.push(format!("{zone} {utterance:?}\n   intent {intent:?}\n   call   {planned:?}\n   wanted {wanted:?}"));
                }
            }
            Expect::Says(text) => {
                let tools = ToolRunner::new(&mcp, "no-token");
                let state = ConversationState::default();
                let reply = BuiltinEngine
                    .respond(Turn {
                        history: &[],
                        message: utterance,
                        tools: &tools,
                        clock: &clock,
                        state: &state,
                    })
                    .await;
                let calls = tools.take_calls();
                let ok = planned.is_none()
                    && calls.is_empty()
                    && reply.as_ref().is_ok_and(|r| r.contains(text));
                if !ok {
                    failures.push(format!("{zone} {utterance:?}\n   intent {intent:?}\n   reply  {reply:?} calls {calls:?}\n   wanted a reply with {text:?} and no tool call"));
                }
            }
        }
    }
    let score = table.len() - failures.len();
    println!(
        "built-in engine utterance table: {score} of {} right",
        table.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} utterances wrong:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

/// Dates at the ends of the calendar (what a user may type, or a model may send) are planned
/// or refused, never a panic: "show tasks due 9999-12-31" once overflowed the day after.
#[test]
fn dates_at_the_ends_of_the_calendar_never_panic() {
    let dates = [
        "9999-12-31",
        "0001-01-01",
        "dec 31 9999",
        "jan 1 0001",
        "10000-01-01",
    ];
    let forms = [
        "show tasks due {}",
        "what's due on {}",
        "add edge case on {}",
        "add edge case {} at 11pm",
        "set 1 due {}",
        "move 1 to {}",
    ];
    let mut planned = 0;
    for zone in [Z, LA, AK, IN, "Pacific/Kiritimati", "Etc/GMT+12"] {
        let clock = clock(zone);
        for form in forms {
            for date in dates {
                let utterance = form.replace("{}", date);
                let intent = parse(&utterance, &clock);
                if let Some((_, args)) = planned_call(&intent, &clock) {
                    planned += 1;
                    // Whatever is planned is something the tools can read back.
                    assert!(args.is_object(), "{zone} {utterance:?}: {args}");
                }
            }
        }
    }
    assert!(planned > 0, "no utterance was planned at all");
}

/// The engine answers "not understood" in one short line; the full list only on "help".
#[tokio::test]
async fn help_is_one_line_unless_asked_for() {
    let mcp = McpClient::new("http://127.0.0.1:9/mcp".to_owned(), Duration::from_secs(2)).unwrap();
    let clock = clock(Z);
    for (message, max_lines) in [("blorp", 1), ("i like turtles", 1), ("help", 9)] {
        let tools = ToolRunner::new(&mcp, "t");
        let state = ConversationState::default();
        let reply = BuiltinEngine
            .respond(Turn {
                history: &[],
                message,
                tools: &tools,
                clock: &clock,
                state: &state,
            })
            .await
            .unwrap();
        assert!(reply.lines().count() <= max_lines, "{message}: {reply}");
        if message == "help" {
            assert!(reply.lines().count() > 3, "{reply}");
        }
    }
}

/// A task due "tomorrow" said at 23:30 local lands on the next local day, in zones where UTC
/// is already on another day, and across DST changes (the offset is that of the due day).
#[test]
fn tomorrow_at_half_past_eleven_is_the_next_local_day() {
    let cases = [
        // LA, 23:30 PST on 24 Nov is 07:30 UTC on the 25th: tomorrow is the 25th locally.
        (
            LA,
            date!(2026 - 11 - 24),
            "add pay rent tomorrow",
            "2026-11-25T00:00:00-08:00",
        ),
        // LA, the night before DST ends (1 Nov 2026 02:00 PDT -> 01:00 PST): midnight is PDT.
        (
            LA,
            date!(2026 - 10 - 31),
            "add pay rent tomorrow",
            "2026-11-01T00:00:00-07:00",
        ),
        (
            LA,
            date!(2026 - 10 - 31),
            "add pay rent tomorrow at 5pm",
            "2026-11-01T17:00:00-08:00",
        ),
        // LA, the night before DST starts (8 Mar 2026): 5pm the next day is PDT.
        (
            LA,
            date!(2026 - 03 - 07),
            "add pay rent tomorrow at 5pm",
            "2026-03-08T17:00:00-07:00",
        ),
        // Auckland, the night before DST starts (27 Sep 2026 02:00 NZST -> 03:00 NZDT).
        (
            AK,
            date!(2026 - 09 - 26),
            "add pay rent tomorrow",
            "2026-09-27T00:00:00+12:00",
        ),
        (
            AK,
            date!(2026 - 09 - 26),
            "add pay rent tomorrow at 9am",
            "2026-09-27T09:00:00+13:00",
        ),
        // Auckland, 23:30 on 24 Nov is 10:30 UTC the same day: tomorrow is still the 25th.
        (
            AK,
            date!(2026 - 11 - 24),
            "add pay rent tomorrow",
            "2026-11-25T00:00:00+13:00",
        ),
        // Kolkata (+05:30, no DST): 23:30 local is 18:00 UTC.
        (
            IN,
            date!(2026 - 11 - 24),
            "add pay rent tomorrow",
            "2026-11-25T00:00:00+05:30",
        ),
        (
            Z,
            date!(2026 - 11 - 24),
            "add pay rent tomorrow",
            "2026-11-25T00:00:00Z",
        ),
    ];
    for (zone, local_day, message, due) in cases {
        let probe = UserClock::new(zone, time::OffsetDateTime::UNIX_EPOCH).unwrap();
        let now = probe.instant(local_day, time!(23:30));
        let clock = UserClock::new(zone, now).unwrap();
        assert_eq!(clock.today(), local_day, "{zone}");
        let (tool, args) = planned_call(&parse(message, &clock), &clock).unwrap();
        assert_eq!(tool, "add_task");
        assert_eq!(args["due"], due, "{zone} {local_day} {message}");
        // The instant sent is the local day's: read back in the zone, it is that day.
        let sent = time::OffsetDateTime::parse(
            args["due"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(
            clock.local(sent).date(),
            local_day.next_day().unwrap(),
            "{zone} {message}"
        );
    }
}
