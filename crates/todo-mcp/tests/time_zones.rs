//! The MCP tools in the user's time zone, over real HTTP against a real PostgreSQL: due dates
//! with or without offsets (RFC 3339 instant, local date-time, date) read in the user's zone,
//! across DST changes (America/Los_Angeles 2026-11-01, Pacific/Auckland 2027-04-04) and in
//! Asia/Kolkata; every result naming the zone it assumed; and `list_tasks`' `due` filter on
//! the user's calendar.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use todo_wire::UserZone;
use uuid::Uuid;

mod common;

struct Mcp {
    running: common::Running,
    client: reqwest::Client,
}

impl Mcp {
    async fn start() -> Mcp {
        Mcp {
            running: common::start(None, Vec::new()).await,
            client: reqwest::Client::new(),
        }
    }

    /// A user in `zone` and a bearer token for them.
    async fn user_in(&self, email: &str, zone: &str) -> (Uuid, String) {
        let (id, token) = self.running.user(email).await;
        let zone = UserZone::parse(zone).unwrap();
        self.running
            .store
            .users()
            .update_settings(id, None, Some(&zone))
            .await
            .unwrap()
            .unwrap();
        (id, token)
    }

    async fn rpc(&self, token: &str, method: &str, params: Value) -> Value {
        let resp = self
            .client
            .post(self.running.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(token)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .find_map(|d| serde_json::from_str(d.trim()).ok())
                .unwrap()
        })
    }

    /// A successful tool call's structured content.
    async fn ok(&self, token: &str, tool: &str, args: Value) -> Value {
        let body = self
            .rpc(
                token,
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        let result = &body["result"];
        assert_ne!(result["isError"], true, "{tool} {args}: {result}");
        result["structuredContent"].clone()
    }

    /// A failed tool call's error field.
    async fn refused(&self, token: &str, tool: &str, args: Value) -> Option<String> {
        let body = self
            .rpc(
                token,
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        let result = &body["result"];
        assert_eq!(result["isError"], true, "{tool} {args}: {result}");
        let text: Value =
            serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
        text["error"]["field"].as_str().map(str::to_owned)
    }
}

#[tokio::test]
async fn due_dates_with_or_without_offsets_are_read_in_the_users_zone() {
    let s = Mcp::start().await;
    let (_, la) = s.user_in("la@x.io", "America/Los_Angeles").await;
    let (_, akl) = s.user_in("akl@x.io", "Pacific/Auckland").await;
    let (_, kol) = s.user_in("kol@x.io", "asia/kolkata").await;
    let (_, utc) = s.running.user("utc@x.io").await;
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            &la,
            "America/Los_Angeles",
            "2026-11-01",
            "2026-11-01T07:00:00Z",
        ),
        (
            &la,
            "America/Los_Angeles",
            "2026-11-02",
            "2026-11-02T08:00:00Z",
        ),
        (
            &la,
            "America/Los_Angeles",
            "2026-11-01T23:30",
            "2026-11-02T07:30:00Z",
        ),
        (
            &la,
            "America/Los_Angeles",
            "2026-11-01T01:30:00",
            "2026-11-01T08:30:00Z",
        ),
        (
            &akl,
            "Pacific/Auckland",
            "2027-04-04",
            "2027-04-03T11:00:00Z",
        ),
        (
            &akl,
            "Pacific/Auckland",
            "2027-04-05",
            "2027-04-04T12:00:00Z",
        ),
        (
            &akl,
            "Pacific/Auckland",
            "2027-04-04T23:30",
            "2027-04-04T11:30:00Z",
        ),
        (&kol, "Asia/Kolkata", "2026-11-25", "2026-11-24T18:30:00Z"),
        (
            &kol,
            "Asia/Kolkata",
            "2026-11-25T09:00",
            "2026-11-25T03:30:00Z",
        ),
        (
            &kol,
            "Asia/Kolkata",
            "2026-11-25T09:00:00Z",
            "2026-11-25T09:00:00Z",
        ),
        (
            &kol,
            "Asia/Kolkata",
            "2026-11-25T09:00:00-05:00",
            "2026-11-25T14:00:00Z",
        ),
        (&utc, "UTC", "2026-11-25", "2026-11-25T00:00:00Z"),
    ];
    for (token, zone, due, want) in cases {
        let added = s
            .ok(token, "add_task", json!({"title": "t", "due": due}))
            .await;
        assert_eq!(added["task"]["due_at"], *want, "add_task due {due}");
        assert_eq!(
            added["time_zone"], *zone,
            "add_task names the zone for {due}"
        );
        let number = added["task"]["number"].clone();
        let updated = s
            .ok(token, "update_task", json!({"task_id": number, "due": due}))
            .await;
        assert_eq!(updated["task"]["due_at"], *want, "update_task due {due}");
        assert_eq!(updated["time_zone"], *zone);
        for tool in ["get_task", "complete_task"] {
            let got = s.ok(token, tool, json!({"task_id": number})).await;
            assert_eq!(got["time_zone"], *zone, "{tool}");
        }
    }
    let listed = s
        .ok(&akl, "list_tasks", json!({"due_before": "2027-04-05"}))
        .await;
    assert_eq!(listed["time_zone"], "Pacific/Auckland");
    assert_eq!(
        listed["total"], 2,
        "before Auckland's 5 April (2027-04-04T12:00Z): the 4th's two tasks: {listed}"
    );
    assert_eq!(
        s.refused(&akl, "add_task", json!({"title": "t", "due": "tomorrow"}))
            .await
            .as_deref(),
        Some("due")
    );
    assert_eq!(
        s.refused(&akl, "list_tasks", json!({"due": "yesterday"}))
            .await
            .as_deref(),
        Some("due")
    );
}

fn titles(result: &Value) -> BTreeSet<String> {
    result["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The day filter at the real current time; false when local midnight passed meanwhile.
async fn list_filters_at_the_real_now(s: &Mcp, email: &str, zone_name: &str) -> bool {
    let zone = UserZone::parse(zone_name).unwrap();
    let (_, token) = s.user_in(email, zone_name).await;
    let mut now = OffsetDateTime::now_utc();
    if now - zone.start_of_day(zone.date_of(now)).unwrap() < time::Duration::seconds(5) {
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        now = OffsetDateTime::now_utc();
    }
    let today = zone.date_of(now);
    let day = |n: i64| (today + time::Duration::days(n)).to_string();
    let start = |n: i64| zone.start_of_day(today + time::Duration::days(n)).unwrap();
    let rfc = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let to_sunday = 6 - i64::from(today.weekday().number_days_from_monday());
    for (title, due) in [
        ("yesterday", day(-1)),
        (
            "just before midnight",
            rfc(start(0) - time::Duration::seconds(1)),
        ),
        ("today", day(0)),
        (
            "first second of today",
            rfc(start(0) + time::Duration::seconds(1)),
        ),
        ("today 23:59", format!("{}T23:59", day(0))),
        ("tomorrow", day(1)),
        ("after sunday", day(to_sunday + 1)),
    ] {
        s.ok(&token, "add_task", json!({"title": title, "due": due}))
            .await;
    }
    let list = |due: &'static str| {
        let token = token.clone();
        async move {
            let result = s
                .ok(&token, "list_tasks", json!({"due": due, "limit": 200}))
                .await;
            assert_eq!(result["time_zone"], zone_name);
            assert_eq!(result["total"].as_u64(), Some(titles(&result).len() as u64));
            titles(&result)
        }
    };
    let (today_got, tomorrow_got, overdue_got, week_got) = (
        list("today").await,
        list("tomorrow").await,
        list("overdue").await,
        list("this_week").await,
    );
    if zone.date_of(OffsetDateTime::now_utc()) != today {
        return false;
    }
    let today_want = set(&["today", "first second of today", "today 23:59"]);
    assert_eq!(today_got, today_want, "{zone_name} today");
    let mut tomorrow_want = set(&["tomorrow"]);
    if to_sunday == 0 {
        tomorrow_want.insert("after sunday".into());
    }
    assert_eq!(tomorrow_got, tomorrow_want, "{zone_name} tomorrow");
    assert_eq!(
        overdue_got,
        set(&["yesterday", "just before midnight", "first second of today"]),
        "{zone_name} overdue"
    );
    let mut week_want = today_want.clone();
    if to_sunday >= 1 {
        week_want.insert("tomorrow".into());
    }
    assert_eq!(week_got, week_want, "{zone_name} this_week");
    true
}

#[tokio::test]
async fn list_tasks_due_filters_use_the_users_calendar() {
    let s = Mcp::start().await;
    for (i, zone) in ["Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata"]
        .into_iter()
        .enumerate()
    {
        let mut passed = false;
        for attempt in 0..2 {
            if list_filters_at_the_real_now(&s, &format!("f{i}-{attempt}@x.io"), zone).await {
                passed = true;
                break;
            }
        }
        assert!(passed, "{zone}: local midnight passed during both attempts");
    }
    // The schema offers the filter and names the zone in the result.
    let (_, token) = s.running.user("schema@x.io").await;
    let tools = s.rpc(&token, "tools/list", json!({})).await;
    let list = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "list_tasks")
        .unwrap()
        .clone();
    assert!(
        list["inputSchema"]["properties"]["due"].is_object(),
        "{list}"
    );
    let filter = list["inputSchema"]["$defs"]["DueFilter"].to_string();
    for name in ["today", "tomorrow", "overdue", "this_week"] {
        assert!(
            filter.contains(&format!("\"{name}\"")),
            "{name} in {filter}"
        );
    }
    assert!(
        list["outputSchema"]["properties"]["time_zone"].is_object(),
        "{list}"
    );
}
