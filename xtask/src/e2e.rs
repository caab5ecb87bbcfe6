//! The browser end-to-end test of the web UI: todo-api, todo-mcp and todo-web as real
//! processes (the debug builds) on a throwaway PostgreSQL, driven through headless Chromium
//! by chromedriver over the WebDriver protocol. A user signs up, adds a task with a due
//! date, filters, completes it, asks the assistant to "add call mom friday", sees the task
//! appear, reloads and finds the conversation again. Screenshots of the tasks page and the
//! chat panel go to `target/e2e-artifacts/`.
//!
//! Needs: `chromium` and `chromedriver` on PATH (`bash .ci/install/40-browser.sh`) and
//! PostgreSQL server binaries (`.ci/install/00-postgres.sh`).

mod webdriver;

use crate::util::{Step, project_root, target_dir};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use webdriver::{ENTER, Session};
use xshell::{Shell, cmd};

const WAIT: Duration = Duration::from_secs(15);

/// CI's entry point: builds the services (debug), starts the stack and runs the scenario.
pub fn browser_e2e(sh: &Shell) -> Result<()> {
    let chromium = find_tool(&["chromium", "chromium-browser"])?;
    let chromedriver = find_tool(&["chromedriver"])?;
    {
        let _step = Step::new("e2e: build todo-api, todo-mcp, todo-web (debug)");
        cmd!(sh, "cargo build -q -p todo-api -p todo-mcp -p todo-web").run()?;
    }
    let artifacts = project_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;
    let profile = tempfile::tempdir().context("creating a browser profile directory")?;
    let bin_dir = target_dir().join("debug");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let _step = Step::new("e2e: browser scenario (headless Chromium)");
        let stack = local_stack::Stack::start(local_stack::StackConfig {
            bin_dir,
            database_url: None,
            jwt_secret: "e2e-jwt-secret-e2e-jwt-secret-e2e-jwt".into(),
            with_web: true,
            logs: false,
            extra_env: vec![("RUST_LOG".into(), "warn".into())],
        })
        .await
        .context("starting the stack (api, mcp, web) for the browser test")?;
        let web = stack
            .web
            .as_ref()
            .context("the stack started without todo-web")?
            .base_url();
        let driver = webdriver::Driver::start(&chromedriver).await?;
        let result = match driver.session(&chromium, profile.path(), 1280, 900).await {
            Ok(session) => {
                let result = scenario(&session, &web, &artifacts).await;
                if result.is_err() {
                    // What the browser showed when it failed, for the CI log's reader.
                    let _ = session
                        .screenshot(None, &artifacts.join("failure.png"))
                        .await;
                    if let Ok(html) = session.source().await {
                        let _ = std::fs::write(artifacts.join("failure.html"), html);
                    }
                }
                session.quit().await;
                result
            }
            Err(e) => Err(e),
        };
        driver.stop().await;
        stack.stop().await?;
        result.with_context(|| {
            format!(
                "browser end-to-end test failed; see {}/failure.png and failure.html",
                artifacts.display()
            )
        })
    })
}

fn find_tool(names: &[&str]) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([project_root().join(".tools/bin")]) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "{} not found on PATH: install it with `bash .ci/install/40-browser.sh` (apt-get install chromium chromium-driver)",
        names.join(" / ")
    )
}

fn iso(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Prints one step of the scenario with its duration.
struct Check(&'static str, Instant);

impl Check {
    fn start(name: &'static str) -> Check {
        Check(name, Instant::now())
    }
    /// Prints the step as passed; returns 1 for the tally.
    fn done(self) -> u32 {
        eprintln!(
            "  ok  {:<58} {:>6.0} ms",
            self.0,
            self.1.elapsed().as_secs_f64() * 1000.0
        );
        1
    }
}

/// A marker in the page's JavaScript state: it survives swaps, not a full page load.
const SET_MARKER: &str = "window.__noReload = 'still here'; return true;";
const NO_RELOAD: &str = "return window.__noReload === 'still here';";

async fn no_reload(s: &Session, what: &str) -> Result<()> {
    if s.js(NO_RELOAD, json!([])).await?.as_bool() != Some(true) {
        bail!("{what} reloaded the whole page; the script should have updated it in place");
    }
    Ok(())
}

async fn scenario(s: &Session, web: &str, artifacts: &Path) -> Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let (yesterday, tomorrow) = (
        today - time::Duration::days(1),
        today + time::Duration::days(1),
    );
    let mut passed = 0;

    let c = Check::start("sign up");
    s.goto(&format!("{web}/signup")).await?;
    s.type_into("#name", "Erin Example").await?;
    s.type_into("#email", "erin@example.com").await?;
    s.type_into("#password", "correct horse battery").await?;
    s.click("#auth-form button[type=submit]").await?;
    s.wait_for(
        "the tasks page after sign-up",
        "return location.pathname === '/tasks' && !!document.querySelector('#tasks-panel .empty');",
        WAIT,
    )
    .await?;
    let flash = s.text("#flash").await?;
    if !flash.contains("Welcome") {
        bail!("no welcome notice after sign-up: {flash:?}");
    }
    passed += c.done();

    let c = Check::start("add a task with a due date (no page reload)");
    s.js(SET_MARKER, json!([])).await?;
    s.type_into("#add-title", "Buy milk").await?;
    s.click("#add-more summary").await?;
    s.click("#add-priority option[value=high]").await?;
    // Date inputs take typed digits in the locale's order; setting the value is exact.
    s.js(
        "const d = document.getElementById('add-due'); d.value = arguments[0]; d.dispatchEvent(new Event('input', {bubbles: true})); return d.value;",
        json!([iso(tomorrow)]),
    )
    .await?;
    s.type_into("#add-tags", "shop").await?;
    s.click("#add-form button[type=submit]").await?;
    s.wait_for(
        "task #1 in the list, due tomorrow",
        "const t = document.getElementById('task-1'); return !!t && t.textContent.includes('Buy milk') && t.textContent.includes('Due tomorrow');",
        WAIT,
    )
    .await?;
    no_reload(s, "adding a task").await?;
    // An overdue task, so the screenshot shows how it stands out.
    s.type_into("#add-title", "Pay rent").await?;
    s.click("#add-more summary").await?;
    s.js(
        "const d = document.getElementById('add-due'); d.value = arguments[0]; return d.value;",
        json!([iso(yesterday)]),
    )
    .await?;
    s.click("#add-form button[type=submit]").await?;
    s.wait_for(
        "task #2 in the list, marked overdue",
        "const t = document.getElementById('task-2'); return !!t && t.classList.contains('overdue') && t.textContent.includes('Overdue');",
        WAIT,
    )
    .await?;
    if s.js(
        "return document.activeElement && document.activeElement.id;",
        json!([]),
    )
    .await?
        != json!("add-title")
    {
        bail!("after adding, focus should return to the title field for the next task");
    }
    passed += c.done();

    let c = Check::start("an API error appears next to its field (in place)");
    s.type_into("#add-title", "   ").await?;
    s.click("#add-form button[type=submit]").await?;
    s.wait_for(
        "the title error under the title field, focused",
        "const e = document.getElementById('add-title-error'); return !!e && e.textContent.includes('Title must not be empty') && document.activeElement && document.activeElement.id === 'add-title';",
        WAIT,
    )
    .await?;
    no_reload(s, "a refused form").await?;
    s.type_into("#add-title", "").await?;
    passed += c.done();

    let c = Check::start("filter by priority");
    s.click("#f-priority option[value=high]").await?;
    s.click("#filter-form button[type=submit]").await?;
    s.wait_for(
        "only the high-priority task listed",
        "return location.search.includes('priority=high') && document.querySelectorAll('#task-list > li').length === 1 && !!document.getElementById('task-1');",
        WAIT,
    )
    .await?;
    no_reload(s, "filtering").await?;
    passed += c.done();

    let c = Check::start("complete the task");
    s.click("#task-1 button.check").await?;
    s.wait_for(
        "task #1 shown as done",
        "const t = document.getElementById('task-1'); return !!t && t.classList.contains('done');",
        WAIT,
    )
    .await?;
    no_reload(s, "completing").await?;
    let flash = s.text("#flash").await?;
    if !flash.contains("Task completed") {
        bail!("no confirmation after completing: {flash:?}");
    }
    s.click("#filter-form a[data-swap]").await?; // "Clear" the filters
    s.wait_for(
        "both tasks listed again",
        "return document.querySelectorAll('#task-list > li').length === 2;",
        WAIT,
    )
    .await?;
    passed += c.done();

    let c = Check::start("edit in place");
    s.click("#task-2 a[data-edit]").await?;
    s.wait_for(
        "the edit form in the task's row",
        "return !!document.querySelector('#task-2 #edit-form') && document.activeElement && document.activeElement.id === 'edit-title';",
        WAIT,
    )
    .await?;
    s.type_into("#edit-title", "Pay the rent").await?;
    s.click("#edit-form button[type=submit]").await?;
    s.wait_for(
        "the row with the new title",
        "const t = document.getElementById('task-2'); return !!t && !t.querySelector('form#edit-form') && t.textContent.includes('Pay the rent');",
        WAIT,
    )
    .await?;
    no_reload(s, "editing").await?;
    passed += c.done();

    let c = Check::start("chat: \"add call mom friday\" adds a task");
    s.type_into("#chat-message", &format!("add call mom friday{ENTER}"))
        .await?;
    s.wait_for(
        "the assistant's reply with its tool call",
        "const log = document.getElementById('chat-log'); return !!log && log.textContent.includes('Added #3') && !!log.querySelector('.tools code');",
        Duration::from_secs(30),
    )
    .await?;
    s.wait_for(
        "task #3 \"call mom\" in the task list without a reload",
        "const t = document.getElementById('task-3'); return !!t && t.textContent.includes('call mom');",
        WAIT,
    )
    .await?;
    no_reload(s, "a chat turn").await?;
    let url = s.url().await?;
    if !url.contains("c=") {
        bail!("the URL should name the conversation after a chat turn: {url}");
    }
    passed += c.done();

    let c = Check::start("screenshots: tasks page and chat panel");
    s.js("window.scrollTo(0, 0); return true;", json!([]))
        .await?;
    let tasks_png = s
        .screenshot(None, &artifacts.join("tasks-page.png"))
        .await?;
    let chat_png = s
        .screenshot(Some("#chat-panel"), &artifacts.join("chat-panel.png"))
        .await?;
    passed += c.done();

    let c = Check::start("reload: the conversation is still there");
    s.refresh().await?;
    s.wait_for(
        "the conversation after a reload",
        "const log = document.getElementById('chat-log'); const convs = document.getElementById('conversations'); return !!log && log.textContent.includes('add call mom friday') && log.textContent.includes('Added #3') && !!convs && !!convs.querySelector('a[aria-current=true]');",
        WAIT,
    )
    .await?;
    // And once more from a bare /tasks (the conversation cookie, not the URL).
    s.goto(&format!("{web}/tasks")).await?;
    s.wait_for(
        "the conversation on a fresh visit to /tasks",
        "const log = document.getElementById('chat-log'); return !!log && log.textContent.includes('Added #3');",
        WAIT,
    )
    .await?;
    passed += c.done();

    let c = Check::start("delete with confirmation");
    s.js(SET_MARKER, json!([])).await?;
    s.click("#task-2 .task-actions a[data-confirm]").await?;
    let question = s.accept_alert().await?;
    if !question.contains("Pay the rent") {
        bail!("the confirmation should name the task: {question:?}");
    }
    s.wait_for(
        "task #2 gone",
        "return !document.getElementById('task-2');",
        WAIT,
    )
    .await?;
    no_reload(s, "deleting").await?;
    passed += c.done();

    let c = Check::start("phone width: one column, screenshot");
    s.set_window(390, 844).await?;
    s.wait_for(
        "the chat panel below the tasks (one column)",
        "const t = document.getElementById('tasks-panel').getBoundingClientRect(); const c = document.getElementById('chat-panel').getBoundingClientRect(); return c.top >= t.bottom && document.documentElement.scrollWidth <= window.innerWidth;",
        WAIT,
    )
    .await?;
    let phone_png = s
        .screenshot(None, &artifacts.join("tasks-phone.png"))
        .await?;
    passed += c.done();

    for png in [tasks_png, chat_png, phone_png] {
        eprintln!("  screenshot: {}", png.display());
    }
    println!("tests: {passed} passed, 0 failed (browser end-to-end)");
    Ok(())
}
