//! The browser end-to-end test of the web UI: todo-api, todo-mcp and todo-web as real
//! processes (the debug builds) on a throwaway PostgreSQL, driven through headless Chromium
//! by chromedriver over the WebDriver protocol. A user signs up, adds a task with a due
//! date, filters, completes it, asks the assistant to "add call mom friday", sees the task
//! appear, reloads and finds the conversation again, deletes a task and undoes it.
//!
//! Measured on every page (sign-in, sign-up, tasks with and without a conversation,
//! settings, edit, delete, not found), at desktop (1280x800) and phone (390x844) widths,
//! signed out and in: axe-core finds zero accessibility violations, and the chat input is
//! in view without scrolling after a reload. Screenshots of each page at both widths go to
//! `target/e2e-artifacts/<page>-<width>.png`.
//!
//! Needs: `chromium` and `chromedriver` on PATH and axe-core in `.tools/axe`
//! (`bash .ci/install/40-browser.sh`), and PostgreSQL server binaries
//! (`.ci/install/00-postgres.sh`).

mod webdriver;
// The workspace's one scripted OpenAI-compatible server (todo-chat's test support), for the
// streamed-reply check (the file allows its own unwraps, as a test fixture).
#[path = "../../crates/todo-chat/tests/support/scripted_llm.rs"]
mod scripted_llm;

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
    let axe = axe_source()?;
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
            bin_dir: bin_dir.clone(),
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
                let result = scenario(&session, &web, &artifacts, &axe).await;
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
        stack.stop().await?;
        let result = match result {
            Ok(()) => streamed_reply(&driver, &chromium, &bin_dir, &artifacts).await,
            Err(e) => Err(e),
        };
        driver.stop().await;
        result.with_context(|| {
            format!(
                "browser end-to-end test failed; see {}/failure.png and failure.html",
                artifacts.display()
            )
        })
    })
}

/// The reply of a language model reaches the browser in pieces, as it is written: a stack
/// whose todo-api talks to the scripted OpenAI-compatible server, which streams "Here " and
/// then holds the rest back until the page has shown that first piece.
async fn streamed_reply(
    driver: &webdriver::Driver,
    chromium: &Path,
    bin_dir: &Path,
    artifacts: &Path,
) -> Result<()> {
    // A profile of its own: cookies are per host, not per port, so the first stack's session
    // cookie would otherwise come along.
    let profile = tempfile::tempdir().context("creating a browser profile directory")?;
    let c = Check::start("a language model's reply streams into the page piece by piece");
    let (llm_url, script) = scripted_llm::serve(
        vec![scripted_llm::streamed_answer(&["Here ", "is your list."])],
        Duration::ZERO,
    )
    .await;
    let stack = local_stack::Stack::start(local_stack::StackConfig {
        bin_dir: bin_dir.to_path_buf(),
        database_url: None,
        jwt_secret: "e2e-jwt-secret-e2e-jwt-secret-e2e-jwt".into(),
        with_web: true,
        logs: false,
        extra_env: vec![
            ("RUST_LOG".into(), "warn".into()),
            ("LLM_BASE_URL".into(), llm_url),
            ("LLM_MODEL".into(), "scripted".into()),
        ],
    })
    .await
    .context("starting a stack with a language model for the streaming check")?;
    let web = stack
        .web
        .as_ref()
        .context("the stack started without todo-web")?
        .base_url();
    let s = driver.session(chromium, profile.path(), 1280, 900).await?;
    let result = async {
        s.goto(&format!("{web}/signup")).await?;
        s.type_into("#name", "Sam Stream").await?;
        s.type_into("#email", "sam@example.com").await?;
        s.type_into("#password", "correct horse battery").await?;
        s.click("#auth-form button[type=submit]").await?;
        s.wait_for(
            "the tasks page after sign-up",
            "return location.pathname === '/tasks' && !!document.getElementById('chat-message');",
            WAIT,
        )
        .await?;
        s.type_into("#chat-message", &format!("what's left?{ENTER}"))
            .await?;
        // The first piece is on the page while the model still holds the rest back.
        s.wait_for(
            "the first piece of the reply, before the rest was written",
            "const li = document.querySelector('#chat-log li.assistant:last-of-type'); return !!li && li.textContent.includes('Here') && !li.textContent.includes('your list');",
            WAIT,
        )
        .await?;
        script.open();
        s.wait_for(
            "the whole reply, stored (the page names the conversation)",
            "const l = document.getElementById('chat-log'); return !!l && l.textContent.includes('Here is your list.') && location.search.includes('c=');",
            WAIT,
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        let _ = s.screenshot(None, &artifacts.join("failure.png")).await;
    }
    s.quit().await;
    stack.stop().await?;
    result?;
    if script.requests().is_empty() {
        bail!("the scripted language model was never asked: the reply did not come from it");
    }
    c.done();
    Ok(())
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

/// axe-core's browser bundle, as `.ci/install/40-browser.sh` installs it.
fn axe_source() -> Result<String> {
    let path = project_root().join(".tools/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading axe-core from {}: install it with `bash .ci/install/40-browser.sh`",
            path.display()
        )
    })
}

/// The two widths every page is checked and photographed at.
const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 800), ("phone", 390, 844)];

/// Sizes the window so that the page's viewport is `width` x `height` (headless Chromium's
/// window includes space for browser UI it does not draw).
async fn set_viewport(s: &Session, width: u32, height: u32) -> Result<()> {
    s.set_window(width, height).await?;
    let inner = s
        .js("return [window.innerWidth, window.innerHeight];", json!([]))
        .await?;
    let got = |i: usize| inner[i].as_u64().unwrap_or(0) as u32;
    let (w, h) = (got(0), got(1));
    if (w, h) != (width, height) && w > 0 && h > 0 {
        s.set_window(
            width + width.saturating_sub(w),
            height + height.saturating_sub(h),
        )
        .await?;
    }
    Ok(())
}

/// Runs axe-core on the page as it is; fails naming every violation (rule, impact, where).
async fn axe_clean(s: &Session, axe: &str, what: &str) -> Result<usize> {
    let loaded = s
        .js("return typeof window.axe === 'object';", json!([]))
        .await?;
    if loaded != json!(true) {
        s.js(&format!("{axe}\n;return true;"), json!([])).await?;
    }
    // WebDriver waits for a returned promise.
    let found = s
        .js(
            "return axe.run(document, { resultTypes: ['violations'] }).then((r) => ({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })) }));",
            json!([]),
        )
        .await
        .with_context(|| format!("running axe-core on {what}"))?;
    let violations = found["violations"].as_array().cloned().unwrap_or_default();
    if !violations.is_empty() {
        let list: Vec<String> = violations
            .iter()
            .map(|v| {
                format!(
                    "{} ({}): {} at {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect();
        bail!(
            "axe-core: {} violation(s) on {what}:\n  {}",
            violations.len(),
            list.join("\n  ")
        );
    }
    Ok(found["passes"].as_u64().unwrap_or(0) as usize)
}

/// Checks `url` at both widths: axe-core clean, and a screenshot as `<name>-<width>.png`.
/// Leaves the window at desktop size.
async fn audit(
    s: &Session,
    axe: &str,
    artifacts: &Path,
    url: &str,
    name: &str,
    ready: &str,
    tally: &mut Audit,
) -> Result<()> {
    for (width, w, h) in WIDTHS {
        set_viewport(s, w, h).await?;
        s.goto(url).await?;
        s.wait_for(&format!("{name} loaded"), ready, WAIT).await?;
        let what = format!("{name} at {width} width ({w}x{h})");
        tally.rules_passed += axe_clean(s, axe, &what).await?;
        tally.pages += 1;
        let png = s
            .screenshot(None, &artifacts.join(format!("{name}-{width}.png")))
            .await?;
        tally.screenshots.push(png);
    }
    set_viewport(s, WIDTHS[0].1, WIDTHS[0].2).await?;
    Ok(())
}

#[derive(Default)]
struct Audit {
    pages: usize,
    rules_passed: usize,
    screenshots: Vec<PathBuf>,
}

/// The chat input is entirely inside the window, with the page not scrolled.
const CHAT_INPUT_IN_VIEW: &str = "const i = document.getElementById('chat-message'); if (!i) return false; const r = i.getBoundingClientRect(); return window.scrollY === 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth && document.documentElement.scrollWidth <= window.innerWidth;";

/// Runs Lighthouse (npm `lighthouse`, in `.tools/lighthouse`, with the same Chromium) on
/// `url`, signed in with `cookie` when given; keeps the JSON report at `report`. Answers
/// the performance, accessibility and best-practices scores (0-100).
fn lighthouse(
    url: &str,
    cookie: Option<&str>,
    preset: &str,
    report: &Path,
) -> Result<Vec<(String, u32)>> {
    let cli = project_root().join(".tools/lighthouse/node_modules/lighthouse/cli/index.js");
    if !cli.is_file() {
        bail!(
            "lighthouse is not installed at {}: run `bash .ci/install/40-browser.sh`",
            cli.display()
        );
    }
    let chromium = find_tool(&["chromium", "chromium-browser"])?;
    let profile = tempfile::tempdir().context("creating a profile directory for lighthouse")?;
    let mut cmd = std::process::Command::new("node");
    cmd.arg(&cli)
        .arg(url)
        .arg("--quiet")
        .arg("--output=json")
        .arg(format!("--output-path={}", report.display()))
        .arg("--only-categories=performance,accessibility,best-practices")
        .arg(format!(
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir={}",
            profile.path().display()
        ))
        .env("CHROME_PATH", &chromium);
    if preset == "desktop" {
        cmd.arg("--preset=desktop");
    }
    if let Some(cookie) = cookie {
        cmd.arg(format!("--extra-headers={}", json!({ "Cookie": cookie })));
    }
    let out = cmd.output().context("running lighthouse (node)")?;
    if !out.status.success() {
        bail!(
            "lighthouse failed on {url} ({preset}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(report)
        .with_context(|| format!("reading the lighthouse report {}", report.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).context("parsing the lighthouse report")?;
    if let Some(err) = v["runtimeError"]["message"].as_str() {
        bail!("lighthouse could not load {url} ({preset}): {err}");
    }
    let final_url = v["finalDisplayedUrl"].as_str().unwrap_or_default();
    if !final_url.starts_with(url) {
        bail!(
            "lighthouse measured {final_url}, not {url} (a redirect: was the session cookie sent?)"
        );
    }
    ["performance", "accessibility", "best-practices"]
        .into_iter()
        .map(|cat| {
            let score = v["categories"][cat]["score"]
                .as_f64()
                .with_context(|| format!("no {cat} score in the lighthouse report for {url}"))?;
            Ok((cat.to_owned(), (score * 100.0).round() as u32))
        })
        .collect()
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

async fn scenario(s: &Session, web: &str, artifacts: &Path, axe: &str) -> Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let (yesterday, tomorrow) = (
        today - time::Duration::days(1),
        today + time::Duration::days(1),
    );
    let mut passed = 0;
    let mut audit_tally = Audit::default();

    let c = Check::start("signed out: sign-in and sign-up pages, axe-clean at both widths");
    let form_ready = "return !!document.getElementById('auth-form');";
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/signin"),
        "signin",
        form_ready,
        &mut audit_tally,
    )
    .await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/signup"),
        "signup",
        form_ready,
        &mut audit_tally,
    )
    .await?;
    // axe-core does find problems here: a planted image without alt text is reported.
    s.js("const i = document.createElement('img'); i.src = 'data:,'; i.id = 'planted'; document.getElementById('main').append(i); return true;", json!([]))
        .await?;
    match axe_clean(
        s,
        axe,
        "the sign-up page with a planted image without alt text",
    )
    .await
    {
        Err(e) if e.to_string().contains("image-alt") => {}
        Err(e) => {
            return Err(e.context("axe-core failed in an unexpected way on the planted violation"));
        }
        Ok(_) => bail!("axe-core did not report an image without alt text: the check cannot fail"),
    }
    s.js(
        "document.getElementById('planted').remove(); return true;",
        json!([]),
    )
    .await?;
    let detected = s
        .js(
            "return document.getElementById('browser-tz').value;",
            json!([]),
        )
        .await?;
    if detected.as_str().is_none_or(str::is_empty) {
        bail!("the sign-up form should carry the browser's time zone: {detected}");
    }
    passed += c.done();

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
    s.click("#more-filters summary").await?;
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
    s.click(".chips a.chip").await?; // remove the priority filter
    s.wait_for(
        "both tasks listed again, the done one under the pending one",
        "return document.querySelectorAll('li.task').length === 2 && !!document.querySelector('#done-list #task-1') && !!document.querySelector('#task-list #task-2');",
        WAIT,
    )
    .await?;
    passed += c.done();

    let c = Check::start("edit in place");
    // Row actions show on hover or focus; keyboard focus reveals them.
    s.js(
        "document.querySelector('#task-2 a[data-edit]').focus(); return true;",
        json!([]),
    )
    .await?;
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
        "const log = document.getElementById('chat-log'); const s = log && log.querySelector('.tools summary'); return !!log && log.textContent.includes('Added #3') && !!s && s.textContent.includes('Added #3') && !!log.querySelector('.tools details code');",
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
    // The reply came over the stream (`/chat/stream`), not the script's fallback form post.
    let fetched = s
        .js(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);",
            json!([]),
        )
        .await?;
    let paths: Vec<&str> = fetched
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
        .unwrap_or_default();
    if !paths.contains(&"/chat/stream") || paths.contains(&"/chat") {
        bail!(
            "the chat turn should have been streamed from /chat/stream, without the form post to /chat; fetched: {paths:?}"
        );
    }
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

    let c = Check::start("delete, then undo restores the task");
    s.js(SET_MARKER, json!([])).await?;
    s.js(
        "document.querySelector('#task-2 a[data-confirm]').focus(); return true;",
        json!([]),
    )
    .await?;
    s.click("#task-2 .task-actions a[data-confirm]").await?;
    s.wait_for(
        "task #2 gone, with an Undo next to the notice",
        "return !document.getElementById('task-2') && !!document.querySelector('#undo-form button') && document.getElementById('flash').textContent.includes('Task deleted');",
        WAIT,
    )
    .await?;
    no_reload(s, "deleting").await?;
    s.click("#undo-form button").await?;
    let restored = "return Array.from(document.querySelectorAll('li.task')).some((li) => li.textContent.includes('Pay the rent')) && document.getElementById('flash').textContent.includes('Task restored');";
    s.wait_for("the deleted task back in the list", restored, WAIT)
        .await?;
    no_reload(s, "undoing").await?;
    s.refresh().await?;
    s.wait_for(
        "the restored task still there after a reload",
        "return Array.from(document.querySelectorAll('li.task')).some((li) => li.textContent.includes('Pay the rent'));",
        WAIT,
    )
    .await?;
    passed += c.done();

    let c = Check::start("chat input in view without scrolling after a reload, both widths");
    for (width, w, h) in WIDTHS {
        set_viewport(s, w, h).await?;
        s.goto(&format!("{web}/tasks")).await?;
        s.refresh().await?;
        s.wait_for(
            &format!("the chat input in view at {width} width ({w}x{h}) after a reload"),
            CHAT_INPUT_IN_VIEW,
            WAIT,
        )
        .await?;
    }
    set_viewport(s, WIDTHS[0].1, WIDTHS[0].2).await?;
    passed += c.done();

    let c = Check::start("signed in: every page axe-clean at both widths, screenshots");
    let tasks_ready = "return !!document.getElementById('tasks-panel') && !!document.getElementById('chat-form');";
    audit(s, axe, artifacts, &format!("{web}/tasks"), "tasks-conversation", "const l = document.getElementById('chat-log'); return !!l && l.textContent.includes('Added #3');", &mut audit_tally).await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/tasks?c=new"),
        "tasks-new-chat",
        tasks_ready,
        &mut audit_tally,
    )
    .await?;
    // The phone's bottom sheet, open (the log shows while the input has focus).
    set_viewport(s, 390, 844).await?;
    s.goto(&format!("{web}/tasks")).await?;
    s.wait_for("the tasks page", tasks_ready, WAIT).await?;
    s.js(
        "document.getElementById('chat-message').focus(); return true;",
        json!([]),
    )
    .await?;
    s.wait_for(
        "the chat log open on the phone",
        "const l = document.getElementById('chat-log'); return !!l && l.getBoundingClientRect().height > 0;",
        WAIT,
    )
    .await?;
    axe_clean(s, axe, "the phone's open chat sheet").await?;
    audit_tally.screenshots.push(
        s.screenshot(None, &artifacts.join("tasks-chat-open-phone.png"))
            .await?,
    );
    set_viewport(s, WIDTHS[0].1, WIDTHS[0].2).await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/settings"),
        "settings",
        "return !!document.getElementById('settings-form');",
        &mut audit_tally,
    )
    .await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/apps"),
        "apps",
        "return !!document.getElementById('apps-h');",
        &mut audit_tally,
    )
    .await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/tasks/1/edit"),
        "edit",
        "return !!document.getElementById('edit-form');",
        &mut audit_tally,
    )
    .await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/tasks/1/delete"),
        "delete",
        "return !!document.querySelector('button.danger');",
        &mut audit_tally,
    )
    .await?;
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/nowhere"),
        "not-found",
        "return document.title.includes('not found');",
        &mut audit_tally,
    )
    .await?;
    passed += c.done();

    let c = Check::start("dark mode (prefers-color-scheme): axe-clean, screenshots");
    s.dark_mode(true).await?;
    let dark = s
        .js(
            "return matchMedia('(prefers-color-scheme: dark)').matches;",
            json!([]),
        )
        .await?;
    if dark != json!(true) {
        bail!("the browser did not switch to the dark colour scheme");
    }
    audit(
        s,
        axe,
        artifacts,
        &format!("{web}/tasks"),
        "dark-tasks",
        tasks_ready,
        &mut audit_tally,
    )
    .await?;
    let background = s
        .js(
            "return getComputedStyle(document.body).backgroundColor;",
            json!([]),
        )
        .await?;
    if background == json!("rgb(245, 246, 248)") {
        bail!("the page kept its light background in dark mode");
    }
    s.dark_mode(false).await?;
    passed += c.done();

    let c = Check::start("lighthouse: sign-in and 50 tasks with a conversation, 100s");
    // Up to 50 tasks, added through the site's own form posts.
    s.goto(&format!("{web}/tasks")).await?;
    s.js(
        "const csrf = document.querySelector('meta[name=csrf-token]').content; const have = document.querySelectorAll('li.task').length; const posts = []; for (let i = have; i < 50; i++) { posts.push(fetch('/tasks', { method: 'POST', credentials: 'same-origin', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, back: '', title: 'Errand ' + i + ': pick up the parcel and post the letters', priority: ['low', 'medium', 'high'][i % 3], tags: 'home, t' + (i % 5) }) })); } return Promise.all(posts).then(() => true);",
        json!([]),
    )
    .await?;
    s.goto(&format!("{web}/tasks")).await?;
    s.wait_for(
        "50 tasks and the conversation on the page",
        "const l = document.getElementById('chat-log'); return document.querySelectorAll('li.task').length === 50 && !!l && l.textContent.includes('Added #3');",
        WAIT,
    )
    .await?;
    let cookies = s.cookie_header().await?;
    let mut scores = Vec::new();
    for (page, url, cookie) in [
        ("signin", format!("{web}/signin"), None),
        ("tasks", format!("{web}/tasks"), Some(cookies.as_str())),
    ] {
        for preset in ["desktop", "mobile"] {
            let got = lighthouse(
                &url,
                cookie,
                preset,
                &artifacts.join(format!("lighthouse-{page}-{preset}.json")),
            )?;
            let low: Vec<String> = got
                .iter()
                .filter(|(_, score)| *score < 100)
                .map(|(cat, score)| format!("{cat} {score}"))
                .collect();
            scores.push(format!(
                "{page}/{preset}: {}",
                got.iter()
                    .map(|(cat, score)| format!("{cat} {score}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if !low.is_empty() {
                bail!(
                    "lighthouse {page} ({preset}): below 100: {}; the report is {}",
                    low.join(", "),
                    artifacts
                        .join(format!("lighthouse-{page}-{preset}.json"))
                        .display()
                );
            }
        }
    }
    passed += c.done();
    for line in &scores {
        println!("lighthouse {line}");
    }

    for png in &audit_tally.screenshots {
        eprintln!("  screenshot: {}", png.display());
    }
    println!(
        "axe-core: 0 violations on {} page views ({} rule checks passed)",
        audit_tally.pages + 1,
        audit_tally.rules_passed
    );
    println!("tests: {passed} passed, 0 failed (browser end-to-end)");
    Ok(())
}
