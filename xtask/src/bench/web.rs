//! `cargo xtask bench web`: the tasks page of a user with 50 tasks, served by todo-web (which
//! asks todo-api for the tasks and the conversations), at 32 connections: p95 time to first
//! byte. And the page's weight: HTML + CSS + JS bytes as sent. Release builds, throwaway
//! database, every service a separate process.

use super::{at_fixed_rates, load_generator, ms, release_binaries};
use anyhow::{Context, Result, bail};
use http_bench::Target;
use smoke_suite::todo_wire as wire;
use std::time::Duration;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Tasks on the measured page.
    #[arg(long, default_value_t = 50)]
    tasks: usize,
}

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    let bin_dir = release_binaries(sh, &["todo-api", "todo-mcp", "todo-web"])?;
    let load = load_generator(&bin_dir);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let stack = local_stack::Stack::start(local_stack::StackConfig {
            bin_dir,
            database_url: None,
            jwt_secret: "bench-secret-bench-secret-bench-secret".into(),
            with_web: true,
            logs: false,
            extra_env: vec![("RUST_LOG".into(), "warn".into())],
        })
        .await?;
        let api = stack.api.base_url();
        let web = stack.web.as_ref().context("todo-web did not start")?.base_url();

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // Sign up through the web UI, as a browser would: CSRF cookie and token, then the form.
        let signin = client.get(format!("{web}/signup")).send().await?;
        let csrf_cookie = set_cookie(&signin, "todo_csrf").context("no CSRF cookie from /signup")?;
        let csrf = meta_csrf(&signin.text().await?).context("no CSRF token in /signup")?;
        let r = client
            .post(format!("{web}/signup"))
            .header("cookie", format!("todo_csrf={csrf_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&name=Bench&email=bench%40example.com&password=bench-password&next="))
            .send()
            .await?;
        let session = set_cookie(&r, "todo_session").context("sign-up through the web UI gave no session")?;
        let cookie = format!("todo_csrf={csrf_cookie}; todo_session={session}");

        // A realistic list: mixed priorities, tags, some overdue, some due today, descriptions.
        let today = time::OffsetDateTime::now_utc().date();
        let mut batch = Vec::new();
        for i in 0..args.tasks {
            let due = (i % 3 != 0).then(|| {
                let d = today + time::Duration::days(i as i64 % 9 - 3);
                format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
            });
            let body = wire::CreateTask {
                title: format!("Task {i}: pick up the dry cleaning and post the letters"),
                description: (i % 2 == 0).then(|| format!("Details for task {i}, with a few more words to read.")),
                priority: Some(wire::Priority::ALL[i % 3]),
                due_at: due,
                tags: Some(vec![format!("tag{}", i % 5), "home".to_owned()]),
            };
            batch.push(tokio::spawn(client.post(format!("{api}/api/tasks")).bearer_auth(&session).json(&body).send()));
        }
        for r in batch {
            r.await??.error_for_status()?;
        }

        // Page weight: exactly what a first visit downloads.
        let page = client.get(format!("{web}/tasks")).header("cookie", &cookie).send().await?;
        if page.status() != 200 {
            bail!("GET /tasks answered {}; expected the tasks page", page.status());
        }
        let html = page.text().await?;
        let rows = html.matches("<li class=\"task").count();
        if rows != args.tasks.min(50) {
            bail!("the tasks page shows {rows} tasks, expected {}", args.tasks.min(50));
        }
        let asset = |prefix: &str| -> Result<String> {
            let start = html.find(prefix).context("asset link missing")? + prefix.len() - "/static/".len();
            let end = start + html[start..].find('"').context("unterminated asset link")?;
            Ok(html[start..end].to_owned())
        };
        let css_path = asset("href=\"/static/")?;
        let js_path = asset("src=\"/static/")?;
        let css = client.get(format!("{web}{css_path}")).send().await?.bytes().await?.len();
        let js = client.get(format!("{web}{js_path}")).send().await?.bytes().await?.len();
        let total = html.len() + css + js;

        eprintln!("load: GET /tasks ({} tasks) at {} connections for {} s", args.tasks, args.connections, args.seconds);
        let duration = Duration::from_secs(args.seconds);
        let page = vec![Target::get(format!("{web}/tasks")).header("cookie", &cookie)];
        let tasks_page = load.run(page.clone(), args.connections, duration).await?;
        let page_rates = at_fixed_rates(&load, &page, args.connections, duration, tasks_page.rps()).await?;
        let api_list = load.run(
            vec![Target::get(format!("{api}/api/tasks?status=all&sort=created_at&order=desc&limit=50&offset=0")).header("authorization", &format!("Bearer {session}"))],
            args.connections,
            duration,
        )
        .await?;
        // One connection: the page's own latency, without queueing behind 31 others.
        let single = load.run(
            vec![Target::get(format!("{web}/tasks")).header("cookie", &cookie)],
            1,
            Duration::from_secs(args.seconds.clamp(1, 5)),
        )
        .await?;
        let signin_page = load.run(vec![Target::get(format!("{web}/signin")).header("cookie", &format!("todo_csrf={csrf_cookie}"))], args.connections, duration).await?;
        stack.stop().await?;
        if tasks_page.errors > 0 || tasks_page.non_success > 0 {
            bail!("the tasks page failed under load: {tasks_page}");
        }

        let kb = |n: usize| n as f64 / 1024.0;
        println!(
            "\nbench web: {} connections, {} s each, release build, this machine ({} cores; load generator, web, api, mcp and PostgreSQL share them)",
            args.connections,
            args.seconds,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        println!("  GET /tasks ({} tasks)            {tasks_page}", args.tasks);
        println!("  GET /tasks first byte            p95 {:.2} ms", ms(tasks_page.first_byte_p95));
        for (share, report) in &page_rates {
            println!("    at {:>3.0}% of that rate: first byte p95 {:>6.2} ms; {report}", share * 100.0, ms(report.first_byte_p95));
        }
        println!("  GET /tasks, 1 connection         {single}");
        println!("  GET /tasks, 1 connection, first byte p95 {:.2} ms", ms(single.first_byte_p95));
        println!("  for scale: GET /api/tasks direct {api_list}");
        println!("  for scale: GET /signin (no API)  {signin_page}");
        println!(
            "  page weight                      {:.1} KB = HTML {:.1} KB + CSS {:.1} KB + JS {:.1} KB (uncompressed; CSS/JS cached for a year)",
            kb(total),
            kb(html.len()),
            kb(css),
            kb(js)
        );
        println!("  \"at N%\" rows: the same connections offered that share of the closed-loop rate on a schedule, latency from when each request was due");
        println!("  targets: first-byte p95 < 15 ms, page weight < 60 KB");
        Ok(())
    })
}

/// The value a response sets for cookie `name`.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let (k, rest) = v.split_once('=')?;
        (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
    })
}

fn meta_csrf(html: &str) -> Option<String> {
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = html.find(marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_owned())
}
