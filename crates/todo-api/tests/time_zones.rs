//! Users' time zones over real HTTP and a real PostgreSQL: the zone at sign-up, on
//! `/api/auth/me` and changed with `PATCH /api/auth/me`; date-only and local due dates landing
//! on the user's day (Pacific/Auckland, America/Los_Angeles, Asia/Kolkata, across the DST
//! changes of 2026-11-01 in Los Angeles and 2027-04-04 in Auckland); and the `due=` filters
//! (today, tomorrow, overdue, this_week) on the user's calendar, at instants just before and
//! after local midnight.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use todo_store::validate::{NewTask, parse_due_in};
use todo_store::{DueFilter, PoolSettings, Store, TaskQuery};
use todo_wire::UserZone;

async fn register_in(api: &TestApi, email: &str, zone: Option<&str>) -> (u16, Value) {
    let mut body = json!({"email": email, "password": "correct horse", "name": "Tester"});
    if let Some(zone) = zone {
        body["time_zone"] = json!(zone);
    }
    api.call(Method::POST, "/api/auth/register", None, Some(body))
        .await
}

async fn token_in(api: &TestApi, email: &str, zone: &str) -> String {
    let (status, body) = register_in(api, email, Some(zone)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["time_zone"], zone);
    body["token"].as_str().unwrap().to_owned()
}

fn titles(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn the_zone_is_set_at_sign_up_shown_on_me_and_changed_with_patch() {
    let api = TestApi::start().await;
    // No zone: UTC.
    let (status, body) = register_in(&api, "utc@x.io", None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["time_zone"], "UTC");
    // Any letter case; stored in the database's spelling.
    let (status, body) = register_in(&api, "akl@x.io", Some("pacific/auckland")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["time_zone"], "Pacific/Auckland");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, me) = api.get("/api/auth/me", &token).await;
    assert_eq!(
        (status, &me["user"]["time_zone"]),
        (200, &json!("Pacific/Auckland"))
    );

    // Unknown zones are refused naming the field, before any account is made.
    for bad in [
        "Mars/Olympus",
        "",
        "Local",
        "UTC+5",
        "Europe/Paris\u{0}",
        "x".repeat(65).as_str(),
    ] {
        let (status, body) = register_in(&api, "bad@x.io", Some(bad)).await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert_eq!(
            error_of(&body),
            ("VALIDATION_ERROR".into(), Some("time_zone".into())),
            "{bad:?}"
        );
    }
    let (status, _) = register_in(&api, "bad@x.io", Some("Asia/Kolkata")).await;
    assert_eq!(status, 201, "the refused sign-ups made no account");

    // PATCH /api/auth/me: zone, name, both; answers the updated Me.
    let (status, me) = api
        .patch(
            "/api/auth/me",
            &token,
            json!({"time_zone": "America/Los_Angeles"}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["time_zone"], "America/Los_Angeles");
    assert_eq!(me["user"]["name"], "Tester");
    let (status, me) = api
        .patch(
            "/api/auth/me",
            &token,
            json!({"name": " Ann ", "time_zone": "asia/KOLKATA"}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (
            me["user"]["name"].as_str(),
            me["user"]["time_zone"].as_str()
        ),
        (Some("Ann"), Some("Asia/Kolkata"))
    );
    let (_, read) = api.get("/api/auth/me", &token).await;
    assert_eq!(read, me, "GET /api/auth/me shows what PATCH stored");

    for (body, field) in [
        (json!({"time_zone": "Nowhere/Special"}), "time_zone"),
        (json!({"time_zone": null}), "time_zone"),
        (json!({"name": ""}), "name"),
        (json!({}), "body"),
    ] {
        let (status, err) = api.patch("/api/auth/me", &token, body.clone()).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(error_of(&err).1.as_deref(), Some(field), "{body}: {err}");
    }
    let (status, err) = api
        .patch("/api/auth/me", &token, json!({"zone": "UTC"}))
        .await;
    assert!(
        matches!(status, 400 | 422),
        "unknown keys are refused: {status} {err}"
    );
    let (_, read) = api.get("/api/auth/me", &token).await;
    assert_eq!(read, me, "refused changes changed nothing");
    let (status, _) = api
        .call(
            Method::PATCH,
            "/api/auth/me",
            None,
            Some(json!({"time_zone": "UTC"})),
        )
        .await;
    assert_eq!(status, 401);

    // The operation is in the OpenAPI document, with the zone names as an enum.
    let (status, doc) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let op = &doc["paths"]["/api/auth/me"]["patch"];
    assert_eq!(op["operationId"], "updateMe", "{op}");
    let doc_text = doc.to_string();
    for zone in ["Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata"] {
        assert!(
            doc_text.contains(&format!("\"{zone}\"")),
            "{zone} in the document's enum"
        );
    }
}

#[tokio::test]
async fn date_only_and_local_due_dates_land_on_the_users_day_across_dst() {
    let api = TestApi::start().await;
    let la = token_in(&api, "la@x.io", "America/Los_Angeles").await;
    let akl = token_in(&api, "akl@x.io", "Pacific/Auckland").await;
    let kol = token_in(&api, "kol@x.io", "Asia/Kolkata").await;
    let cases: &[(&str, &str, &str)] = &[
        // Los Angeles, 2026-11-01: PDT (-07:00) until 02:00, then PST (-08:00).
        (&la, "2026-10-31", "2026-10-31T07:00:00Z"),
        (&la, "2026-11-01", "2026-11-01T07:00:00Z"),
        (&la, "2026-11-02", "2026-11-02T08:00:00Z"),
        (&la, "2026-11-01T23:30", "2026-11-02T07:30:00Z"),
        // 01:30 happens twice that night: the earlier (PDT) one.
        (&la, "2026-11-01T01:30", "2026-11-01T08:30:00Z"),
        // 2027-03-14 02:30 does not exist (clocks jump 02:00 -> 03:00): moved forward.
        (&la, "2027-03-14T02:30", "2027-03-14T10:30:00Z"),
        // Auckland, 2027-04-04: NZDT (+13:00) until 03:00, then NZST (+12:00).
        (&akl, "2027-04-04", "2027-04-03T11:00:00Z"),
        (&akl, "2027-04-05", "2027-04-04T12:00:00Z"),
        (&akl, "2027-04-04T23:30", "2027-04-04T11:30:00Z"),
        // Kolkata: +05:30 all year.
        (&kol, "2026-11-25", "2026-11-24T18:30:00Z"),
        (&kol, "2026-11-25T23:30:00", "2026-11-25T18:00:00Z"),
        // An offset or Z is an instant, whatever the zone.
        (&kol, "2026-11-25T23:30:00Z", "2026-11-25T23:30:00Z"),
        (&akl, "2026-11-25T09:00:00+01:00", "2026-11-25T08:00:00Z"),
    ];
    for (token, due, want) in cases {
        let task = api
            .add_task(token, json!({"title": "t", "due_at": due}))
            .await;
        assert_eq!(task["due_at"], *want, "POST due_at {due}");
        let id = task["id"].as_str().unwrap();
        let (status, patched) = api
            .patch(&format!("/api/tasks/{id}"), token, json!({"due_at": due}))
            .await;
        assert_eq!(
            (status, &patched["due_at"]),
            (200, &json!(want)),
            "PATCH due_at {due}"
        );
    }
    // Changing the zone changes how later dates read, not what is stored.
    let (status, _) = api
        .patch("/api/auth/me", &la, json!({"time_zone": "UTC"}))
        .await;
    assert_eq!(status, 200);
    let task = api
        .add_task(&la, json!({"title": "u", "due_at": "2026-11-01"}))
        .await;
    assert_eq!(task["due_at"], "2026-11-01T00:00:00Z");
    let (_, first) = api.get("/api/tasks/1", &la).await;
    assert_eq!(first["due_at"], "2026-10-31T07:00:00Z");
    // due_before / due_after read dates in the zone too.
    let (status, page) = api
        .get(
            "/api/tasks?due_after=2027-04-05&due_before=2027-04-06",
            &akl,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["total"], 1,
        "only the task due 2027-04-05 in Auckland: {page}"
    );
    assert_eq!(page["items"][0]["due_at"], "2027-04-04T12:00:00Z");
}

/// One day's tasks for the filters, relative to the zone's "today" at the real current time.
/// Returns false (and the caller tries again) when local midnight passed during the run.
async fn filters_at_the_real_now(api: &TestApi, email: &str, zone_name: &str) -> bool {
    let zone = UserZone::parse(zone_name).unwrap();
    let token = token_in(api, email, zone_name).await;
    let mut now = OffsetDateTime::now_utc();
    let first = zone.start_of_day(zone.date_of(now)).unwrap();
    if now - first < time::Duration::seconds(5) {
        // The first seconds of a day: let "first second of today" be clearly past.
        tokio::time::sleep(std::time::Duration::from_secs(6)).await;
        now = OffsetDateTime::now_utc();
    }
    let today = zone.date_of(now);
    let day = |n: i64| today + time::Duration::days(n);
    let start = |n: i64| zone.start_of_day(day(n)).unwrap();
    let rfc = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    // Sunday ends the week: days from today to it.
    let to_sunday = 6 - i64::from(today.weekday().number_days_from_monday());
    let tasks: Vec<(&str, String)> = vec![
        ("yesterday", day(-1).to_string()),
        (
            "last second of yesterday",
            rfc(start(0) - time::Duration::seconds(1)),
        ),
        ("today", day(0).to_string()),
        (
            "first second of today",
            rfc(start(0) + time::Duration::seconds(1)),
        ),
        ("last second of today", format!("{}T23:59:59", day(0))),
        ("tomorrow", day(1).to_string()),
        (
            "last second of tomorrow",
            rfc(start(2) - time::Duration::seconds(1)),
        ),
        ("day after tomorrow", day(2).to_string()),
        ("sunday", day(to_sunday).to_string()),
        ("next monday", day(to_sunday + 1).to_string()),
    ];
    for (title, due) in &tasks {
        api.add_task(&token, json!({"title": title, "due_at": due}))
            .await;
    }
    api.add_task(&token, json!({"title": "no date"})).await;
    let done = api
        .add_task(
            &token,
            json!({"title": "done yesterday", "due_at": day(-1).to_string()}),
        )
        .await;
    let (status, _) = api
        .post(
            &format!("/api/tasks/{}/complete", done["id"].as_str().unwrap()),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let list = |filter: &str| {
        let token = token.clone();
        let path = format!("/api/tasks?due={filter}&limit=200");
        async move {
            let (status, page) = api.get(&path, &token).await;
            assert_eq!(status, 200, "{page}");
            titles(&page)
        }
    };
    let today_got = list("today").await;
    let tomorrow_got = list("tomorrow").await;
    let overdue_got = list("overdue").await;
    let week_got = list("this_week").await;
    let pending_overdue = {
        let (status, page) = api
            .get("/api/tasks?due=overdue&status=completed", &token)
            .await;
        assert_eq!(status, 200, "{page}");
        page["total"].clone()
    };
    if zone.date_of(OffsetDateTime::now_utc()) != today {
        return false;
    }
    let mut today_want = set(&["today", "first second of today", "last second of today"]);
    if to_sunday == 0 {
        today_want.insert("sunday".into());
    }
    assert_eq!(today_got, today_want, "{zone_name} today");
    let mut tomorrow_want = set(&["tomorrow", "last second of tomorrow"]);
    if to_sunday == 1 {
        tomorrow_want.insert("sunday".into());
    }
    if to_sunday == 0 {
        tomorrow_want.insert("next monday".into());
    }
    assert_eq!(tomorrow_got, tomorrow_want, "{zone_name} tomorrow");
    // Past due and pending: yesterday's, and today's first second (a time that has passed),
    // never today's date-only task (due all day) nor the completed one.
    let overdue_want = set(&[
        "yesterday",
        "last second of yesterday",
        "first second of today",
    ]);
    assert_eq!(overdue_got, overdue_want, "{zone_name} overdue");
    assert_eq!(pending_overdue, 0, "overdue is about pending tasks");
    let mut week_want: BTreeSet<String> = today_want.clone();
    for n in 1..=to_sunday {
        for (title, due) in &tasks {
            if *due == day(n).to_string() || (n == 1 && *title == "last second of tomorrow") {
                week_want.insert((*title).to_owned());
            }
        }
    }
    week_want.insert("sunday".into());
    assert_eq!(
        week_got, week_want,
        "{zone_name} this_week (today to Sunday)"
    );
    true
}

#[tokio::test]
async fn due_filters_use_the_users_calendar() {
    let api = TestApi::start().await;
    for (i, zone) in [
        "Pacific/Auckland",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "UTC",
    ]
    .into_iter()
    .enumerate()
    {
        // At most one retry: local midnight passes at most once in a few seconds.
        let mut passed = false;
        for attempt in 0..2 {
            if filters_at_the_real_now(&api, &format!("f{i}-{attempt}@x.io"), zone).await {
                passed = true;
                break;
            }
        }
        assert!(passed, "{zone}: local midnight passed during both attempts");
    }
    let (token, _) = api.register("bad-filter@x.io").await;
    let (status, body) = api.get("/api/tasks?due=yesterday", &token).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_of(&body).1.as_deref(), Some("due"));
}

/// At this instant, this filter selects the tasks with these titles.
type Check = (OffsetDateTime, DueFilter, &'static [&'static str]);

/// The store's filters at pinned instants just before and after local midnight, on the
/// nights clocks change: the SQL the API runs, with "now" chosen.
#[tokio::test]
async fn filters_turn_over_at_local_midnight_across_dst_changes() {
    let api = TestApi::start().await;
    let store = Store::connect_lazy(&api.database_url, &PoolSettings::default()).unwrap();
    let cases: &[(&str, &[&str], &[Check])] = &[
        (
            "America/Los_Angeles",
            &[
                "2026-10-31",
                "2026-10-31T23:59:59",
                "2026-11-01",
                "2026-11-01T23:30",
                "2026-11-02",
                "2026-11-08",
                "2026-11-09",
            ],
            &[
                // 2026-10-31 23:59:59 PDT: still Saturday the 31st.
                (
                    datetime!(2026-11-01 06:59:59 UTC),
                    DueFilter::Today,
                    &["2026-10-31", "2026-10-31T23:59:59"],
                ),
                (
                    datetime!(2026-11-01 06:59:59 UTC),
                    DueFilter::Tomorrow,
                    &["2026-11-01", "2026-11-01T23:30"],
                ),
                (datetime!(2026-11-01 06:59:59 UTC), DueFilter::Overdue, &[]),
                // Saturday: the week ends with Sunday the 1st.
                (
                    datetime!(2026-11-01 06:59:59 UTC),
                    DueFilter::ThisWeek,
                    &[
                        "2026-10-31",
                        "2026-10-31T23:59:59",
                        "2026-11-01",
                        "2026-11-01T23:30",
                    ],
                ),
                // 2026-11-01 00:00 PDT: Sunday, a 25-hour day.
                (
                    datetime!(2026-11-01 07:00 UTC),
                    DueFilter::Today,
                    &["2026-11-01", "2026-11-01T23:30"],
                ),
                (
                    datetime!(2026-11-01 07:00 UTC),
                    DueFilter::Overdue,
                    &["2026-10-31", "2026-10-31T23:59:59"],
                ),
                (
                    datetime!(2026-11-01 07:00 UTC),
                    DueFilter::ThisWeek,
                    &["2026-11-01", "2026-11-01T23:30"],
                ),
                // 23:59 PST on the 1st (08:00 UTC would be midnight under PDT rules).
                (
                    datetime!(2026-11-02 07:59 UTC),
                    DueFilter::Today,
                    &["2026-11-01", "2026-11-01T23:30"],
                ),
                (
                    datetime!(2026-11-02 07:59 UTC),
                    DueFilter::Overdue,
                    &["2026-10-31", "2026-10-31T23:59:59", "2026-11-01T23:30"],
                ),
                (
                    datetime!(2026-11-02 08:00 UTC),
                    DueFilter::Today,
                    &["2026-11-02"],
                ),
                (
                    datetime!(2026-11-02 08:00 UTC),
                    DueFilter::Overdue,
                    &[
                        "2026-10-31",
                        "2026-10-31T23:59:59",
                        "2026-11-01",
                        "2026-11-01T23:30",
                    ],
                ),
                (
                    datetime!(2026-11-02 08:00 UTC),
                    DueFilter::ThisWeek,
                    &["2026-11-02", "2026-11-08"],
                ),
            ],
        ),
        (
            "Pacific/Auckland",
            &["2027-04-03", "2027-04-04", "2027-04-04T23:30", "2027-04-05"],
            &[
                // 2027-04-03 23:59 NZDT (+13).
                (
                    datetime!(2027-04-03 10:59 UTC),
                    DueFilter::Today,
                    &["2027-04-03"],
                ),
                (
                    datetime!(2027-04-03 10:59 UTC),
                    DueFilter::Tomorrow,
                    &["2027-04-04", "2027-04-04T23:30"],
                ),
                (
                    datetime!(2027-04-03 11:00 UTC),
                    DueFilter::Today,
                    &["2027-04-04", "2027-04-04T23:30"],
                ),
                (
                    datetime!(2027-04-03 11:00 UTC),
                    DueFilter::Overdue,
                    &["2027-04-03"],
                ),
                // 2027-04-04 23:59 NZST (+12): the 25-hour Sunday ends at 12:00 UTC.
                (
                    datetime!(2027-04-04 11:59 UTC),
                    DueFilter::Today,
                    &["2027-04-04", "2027-04-04T23:30"],
                ),
                (
                    datetime!(2027-04-04 11:59 UTC),
                    DueFilter::Overdue,
                    &["2027-04-03", "2027-04-04T23:30"],
                ),
                (
                    datetime!(2027-04-04 12:00 UTC),
                    DueFilter::Today,
                    &["2027-04-05"],
                ),
                (
                    datetime!(2027-04-04 12:00 UTC),
                    DueFilter::ThisWeek,
                    &["2027-04-05"],
                ),
            ],
        ),
        (
            "Asia/Kolkata",
            &[
                "2026-11-25",
                "2026-11-25T23:59",
                "2026-11-26",
                "2026-11-29",
                "2026-11-30",
            ],
            &[
                (
                    datetime!(2026-11-25 18:29:59 UTC),
                    DueFilter::Today,
                    &["2026-11-25", "2026-11-25T23:59"],
                ),
                // 23:59 has passed: a deadline, so overdue; the date-only task is due all day.
                (
                    datetime!(2026-11-25 18:29:59 UTC),
                    DueFilter::Overdue,
                    &["2026-11-25T23:59"],
                ),
                // Wednesday: to the end of Sunday the 29th.
                (
                    datetime!(2026-11-25 18:29:59 UTC),
                    DueFilter::ThisWeek,
                    &["2026-11-25", "2026-11-25T23:59", "2026-11-26", "2026-11-29"],
                ),
                (
                    datetime!(2026-11-25 18:30 UTC),
                    DueFilter::Today,
                    &["2026-11-26"],
                ),
                (
                    datetime!(2026-11-25 18:30 UTC),
                    DueFilter::Overdue,
                    &["2026-11-25", "2026-11-25T23:59"],
                ),
            ],
        ),
    ];
    for (i, (zone_name, dues, checks)) in cases.iter().enumerate() {
        let zone = UserZone::parse(zone_name).unwrap();
        let user = store
            .users()
            .create_in(&format!("dst{i}@x.io"), "D", "x", &zone)
            .await
            .unwrap()
            .id;
        for due in *dues {
            let at = parse_due_in("due_at", due, &zone).unwrap();
            let task = NewTask::new(due, None, None, Some(at), &[]).unwrap();
            store.tasks().create(user, &task).await.unwrap();
        }
        for (now, filter, want) in *checks {
            let query = TaskQuery {
                due: Some(*filter),
                zone: store.users().zone_of(user).await.unwrap(),
                now: Some(*now),
                limit: 200,
                ..TaskQuery::default()
            };
            let page = store.tasks().list(user, &query).await.unwrap();
            let got: BTreeSet<String> = page.items.iter().map(|t| t.title.clone()).collect();
            assert_eq!(got, set(want), "{zone_name} {filter:?} at {now}");
            assert_eq!(
                page.total,
                want.len() as i64,
                "{zone_name} {filter:?} at {now}"
            );
        }
    }
}

/// The chat agent reads "tomorrow" on the user's calendar: todo-api passes the user's zone.
#[tokio::test]
async fn chat_reads_dates_in_the_users_zone() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    let mut c = config(&db);
    c.chat.mcp_url = Some(mcp);
    c.chat.mcp_timeout = std::time::Duration::from_secs(5);
    let api = TestApi::start_with(c).await;
    for (i, zone_name) in ["Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata"]
        .into_iter()
        .enumerate()
    {
        let zone = UserZone::parse(zone_name).unwrap();
        // At most one retry: local midnight passes at most once in a few seconds.
        let mut checked = false;
        for attempt in 0..2 {
            let token = token_in(&api, &format!("chat{i}-{attempt}@x.io"), zone_name).await;
            let today = zone.date_of(OffsetDateTime::now_utc());
            let (status, reply) = api
                .post(
                    "/api/chat",
                    &token,
                    json!({"message": "add pay rent tomorrow"}),
                )
                .await;
            assert_eq!(status, 200, "{reply}");
            let (_, page) = api.get("/api/tasks", &token).await;
            if zone.date_of(OffsetDateTime::now_utc()) != today {
                continue;
            }
            assert_eq!(page["total"], 1, "{zone_name}: {reply}");
            let want = zone
                .start_of_day(today + time::Duration::days(1))
                .unwrap()
                .format(&Rfc3339)
                .unwrap();
            assert_eq!(page["items"][0]["due_at"], want, "{zone_name}: {reply}");
            checked = true;
            break;
        }
        assert!(
            checked,
            "{zone_name}: local midnight passed during both attempts"
        );
    }
}
