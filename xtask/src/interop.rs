//! `cargo xtask ci`, step `interop`: independent clients against the real local stack
//! (todo-api and todo-mcp debug binaries on a throwaway PostgreSQL).
//!
//! - the official MCP TypeScript SDK v1 (also its OAuth flow, `auth()` with an
//!   `OAuthClientProvider`) and the v2 client package (also its `auth()`), the tool schemas under Ajv strict mode
//!   (draft-07 and 2020-12), and the MCP Inspector CLI
//!   (node:test files in `crates/todo-mcp/tests/clients`, installed by
//!   `.ci/install/35-node-clients.sh`);
//! - the official MCP Python SDK, `ClientSession` (2025-11-25) and `Client(mode="auto")`
//!   (2026-07-28), and its OAuth client (`OAuthClientProvider`: discovery, registration,
//!   PKCE authorization, token exchange, tool calls, revocation), pytest files in
//!   `crates/todo-mcp/tests/python` (`.ci/install/30-python.sh`);
//! - schemathesis over todo-api's OpenAPI document, with and without a token, fixed seed, reports
//!   in `target/ci-artifacts/schemathesis/`.
//!
//! Every client runs even when an earlier one fails; each one's tests are counted into the
//! tally, and the error names the failing clients, their failing checks and the command that
//! reproduces each. `INTEROP_ONLY=ts-sdk-v1,schemathesis-auth` runs only the named clients;
//! `INTEROP_LOGS=1` shows the services' logs (panics, request lines).

use crate::ci::{Tally, count_line};
use crate::util::{project_root, target_dir};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

/// Fixed so that a schemathesis failure reproduces; `SCHEMATHESIS_SEED` overrides it.
const SCHEMATHESIS_SEED: u64 = 15;
/// Test cases per API operation and phase, with a token (about 20 s here) and without one
/// (fewer: most operations stop at 401).
const SCHEMATHESIS_MAX_EXAMPLES: (u32, u32) = (25, 10);
const CLIENTS_DIR: &str = "crates/todo-mcp/tests/clients";
const PYTHON_DIR: &str = "crates/todo-mcp/tests/python";
const SCHEMATHESIS_CONFIG: &str = "crates/todo-api/schemathesis.toml";
/// The step's own command line, for "run only this client again".
const STEP_COMMAND: &str = "cargo xtask ci --skip fmt,clippy,test,chart,nix,images,smoke,e2e";

/// How a client reports: test-runner lines (`count_line`, `FAILED ...`) or a JUnit file.
enum Report {
    Lines,
    Junit(PathBuf),
}

struct Client {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    env: Vec<(&'static str, String)>,
    timeout: Duration,
    report: Report,
    /// How to run it by hand against `cargo xtask dev --no-web`.
    reproduce: String,
}

/// What one client did.
struct Outcome {
    name: &'static str,
    seconds: f64,
    passed: u64,
    failed: u64,
    /// Failing checks, one line each.
    failures: Vec<String>,
    /// Why the run as a whole failed (exit status, timeout, nothing counted).
    problem: Option<String>,
    reproduce: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.problem.is_none() && self.failed == 0
    }
}

/// The step: the stack, then every client, then one report.
pub fn run(sh: &Shell, tally: &mut Tally) -> Result<()> {
    let root = project_root();
    let tools = Tools::find(&root)?;
    cmd!(sh, "cargo build -q -p todo-api -p todo-mcp").run()?;
    let only: Vec<String> = std::env::var("INTEROP_ONLY")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let seed = match std::env::var("SCHEMATHESIS_SEED") {
        Ok(s) => s
            .parse::<u64>()
            .with_context(|| format!("SCHEMATHESIS_SEED={s:?} is not a number"))?,
        Err(_) => SCHEMATHESIS_SEED,
    };
    let artifacts = target_dir().join("ci-artifacts/schemathesis");
    std::fs::create_dir_all(&artifacts)
        .with_context(|| format!("creating {}", artifacts.display()))?;

    let rt = tokio::runtime::Runtime::new()?;
    let outcomes = rt.block_on(async {
        let stack = local_stack::Stack::start(local_stack::StackConfig {
            bin_dir: target_dir().join("debug"),
            database_url: None,
            jwt_secret: "ci-jwt-secret-ci-jwt-secret-ci-jwt-secret".into(),
            with_web: false,
            logs: std::env::var_os("INTEROP_LOGS").is_some(),
            extra_env: Vec::new(),
        })
        .await?;
        let api = stack.api.base_url();
        let mcp = format!("{}/mcp", stack.mcp.base_url());
        eprintln!("  stack: api {api}, mcp {mcp}");
        let result = async {
            let token = register(&api, "interop-schemathesis@example.com").await?;
            let clients = clients(&root, &tools, &api, &mcp, &token, seed, &artifacts);
            let unknown: Vec<&String> = only
                .iter()
                .filter(|o| !clients.iter().any(|c| c.name == o.as_str()))
                .collect();
            if !unknown.is_empty() {
                let names: Vec<&str> = clients.iter().map(|c| c.name).collect();
                bail!(
                    "INTEROP_ONLY names unknown clients {unknown:?}; the clients are {}",
                    names.join(", ")
                );
            }
            let mut outcomes = Vec::new();
            for client in clients
                .into_iter()
                .filter(|c| only.is_empty() || only.iter().any(|o| o == c.name))
            {
                outcomes.push(run_client(&client));
            }
            Ok(outcomes)
        }
        .await;
        stack.stop().await?;
        result
    })?;

    eprintln!("\ninterop clients:");
    for o in &outcomes {
        tally.passed += o.passed;
        tally.failed += o.failed;
        eprintln!(
            "  {:<20} {:>6.1}s  {:>4} passed, {:>4} failed{}",
            o.name,
            o.seconds,
            o.passed,
            o.failed,
            o.problem
                .as_deref()
                .map(|p| format!("  ({p})"))
                .unwrap_or_default()
        );
    }
    eprintln!(
        "  schemathesis seed {seed}; reports in {}",
        artifacts.display()
    );
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    bail!("{}", failure_report(&failed))
}

/// The error text: per failing client, what failed and how to run it again.
fn failure_report(failed: &[&Outcome]) -> String {
    const SHOWN: usize = 12;
    let mut text = format!(
        "{} interop client(s) failed: {}",
        failed.len(),
        failed.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
    );
    for o in failed {
        text.push_str(&format!(
            "\n\n`{}`: {} passed, {} failed",
            o.name, o.passed, o.failed
        ));
        if let Some(problem) = &o.problem {
            text.push_str(&format!("; {problem}"));
        }
        for line in o.failures.iter().take(SHOWN) {
            text.push_str(&format!("\n  - {}", truncate(line, 240)));
        }
        if o.failures.len() > SHOWN {
            text.push_str(&format!(
                "\n  ... and {} more (see the output above)",
                o.failures.len() - SHOWN
            ));
        }
        text.push_str(&format!(
            "\n  this client alone: INTEROP_ONLY={} {STEP_COMMAND}\n  by hand, with `cargo xtask dev --no-web` running in another terminal:\n    {}",
            o.name, o.reproduce
        ));
    }
    text
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// The installed client tools, or which installer provides each missing one.
struct Tools {
    python: PathBuf,
    schemathesis: PathBuf,
    node: PathBuf,
}

impl Tools {
    fn find(root: &Path) -> Result<Tools> {
        let python = root.join(".tools/py/bin/python");
        let schemathesis = root.join(".tools/schemathesis/bin/st");
        let mut missing = Vec::new();
        if !python.exists() {
            missing.push(format!(
                "{} (bash .ci/install/30-python.sh)",
                python.display()
            ));
        }
        if !schemathesis.exists() {
            missing.push(format!(
                "{} (bash .ci/install/30-python.sh)",
                schemathesis.display()
            ));
        }
        let modules = root
            .join(CLIENTS_DIR)
            .join("node_modules/.package-lock.json");
        if !modules.exists() {
            missing.push(format!(
                "{} (bash .ci/install/35-node-clients.sh)",
                modules.display()
            ));
        }
        let node = PathBuf::from("node");
        match Command::new(&node).arg("--version").output() {
            Ok(out) if out.status.success() => {
                let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let major = version
                    .trim_start_matches('v')
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok());
                if major.is_none_or(|m| m < 20) {
                    missing.push(format!("Node.js >= 20 (found {version})"));
                }
            }
            _ => missing.push("node (Node.js >= 20) on PATH".to_owned()),
        }
        if !missing.is_empty() {
            bail!("interop clients are missing:\n  {}", missing.join("\n  "));
        }
        Ok(Tools {
            python,
            schemathesis,
            node,
        })
    }
}

/// Every client, in the order they run.
fn clients(
    root: &Path,
    tools: &Tools,
    api: &str,
    mcp: &str,
    token: &str,
    seed: u64,
    artifacts: &Path,
) -> Vec<Client> {
    let dev_mcp = format!("http://127.0.0.1:{}/mcp", crate::dev::DEV_PORT);
    let dev_api = format!("http://127.0.0.1:{}", crate::dev::DEV_PORT);
    let common = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("MCP_URL", mcp.to_owned()),
            ("API_URL", api.to_owned()),
            ("NO_COLOR", "1".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        env
    };
    let node = |name: &'static str, file: &str| Client {
        name,
        program: tools.node.clone(),
        args: vec![
            "--test".into(),
            "--test-reporter=./reporter.mjs".into(),
            file.into(),
        ],
        cwd: root.join(CLIENTS_DIR),
        env: common(&[]),
        timeout: Duration::from_secs(180),
        report: Report::Lines,
        reproduce: format!(
            "cd {CLIENTS_DIR} && MCP_URL={dev_mcp} API_URL={dev_api} node --test --test-reporter=./reporter.mjs {file}"
        ),
    };
    let pytest = |name: &'static str, file: &str| Client {
        name,
        program: tools.python.clone(),
        args: vec![
            "-m".into(),
            "pytest".into(),
            "-q".into(),
            "-p".into(),
            "no:cacheprovider".into(),
            "--tb=short".into(),
            "-rfE".into(),
            format!("{PYTHON_DIR}/{file}"),
        ],
        cwd: root.to_path_buf(),
        // pytest cuts its `FAILED ... - message` lines to the terminal width.
        env: common(&[("COLUMNS", "240".to_owned())]),
        timeout: Duration::from_secs(180),
        report: Report::Lines,
        reproduce: format!(
            "MCP_URL={dev_mcp} API_URL={dev_api} .tools/py/bin/python -m pytest -q -p no:cacheprovider {PYTHON_DIR}/{file}"
        ),
    };
    let schemathesis = |name: &'static str, with_token: bool| {
        let examples = if with_token {
            SCHEMATHESIS_MAX_EXAMPLES.0
        } else {
            SCHEMATHESIS_MAX_EXAMPLES.1
        };
        let junit = artifacts.join(format!("{name}.junit.xml"));
        let cassette = artifacts.join(format!("{name}.cassette.yaml"));
        let flags = format!(
            "--checks all --max-examples {examples} --seed {seed} --generation-database none --request-timeout 10 --no-color"
        );
        // todo-api's own schemathesis settings (rules OpenAPI cannot state), when present.
        let config = root.join(SCHEMATHESIS_CONFIG);
        let (config_args, config_flag) = if config.exists() {
            (
                vec!["--config-file".to_owned(), config.display().to_string()],
                format!(" --config-file {SCHEMATHESIS_CONFIG}"),
            )
        } else {
            (Vec::new(), String::new())
        };
        let mut args = config_args;
        args.extend(["run".into(), format!("{api}/api/openapi.json")]);
        args.extend(flags.split(' ').map(str::to_owned));
        if with_token {
            args.extend(["-H".into(), format!("Authorization: Bearer {token}")]);
        }
        args.extend([
            "--report".into(),
            "junit,vcr".into(),
            "--report-junit-path".into(),
            junit.display().to_string(),
            "--report-vcr-path".into(),
            cassette.display().to_string(),
        ]);
        let header = if with_token {
            " -H \"Authorization: Bearer $TOKEN\""
        } else {
            ""
        };
        let get_token = if with_token {
            "TOKEN=$(curl -s -X POST $API/api/auth/register -H 'content-type: application/json' -d '{\"email\":\"st@example.com\",\"password\":\"interop-password\",\"name\":\"ST\"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])') && "
        } else {
            ""
        };
        Client {
            name,
            program: tools.schemathesis.clone(),
            args,
            cwd: artifacts.to_path_buf(),
            env: vec![("NO_COLOR", "1".to_owned())],
            timeout: Duration::from_secs(240),
            report: Report::Junit(junit),
            reproduce: format!(
                "API=<the `/api todo-api http://127.0.0.1:PORT` URL that `cargo xtask dev` prints> && {get_token}.tools/schemathesis/bin/st{config_flag} run $API/api/openapi.json{header} {flags}"
            ),
        }
    };
    vec![
        node("ts-sdk-v1", "ts-sdk-v1.test.mjs"),
        node("ts-client-v2", "ts-client-v2.test.mjs"),
        // Every tool schema under Ajv strict mode, draft-07 and 2020-12 (portability).
        node("ajv-strict", "ajv-strict.test.mjs"),
        node("inspector-cli", "inspector.test.mjs"),
        // OAuth 2.1 end to end with the SDK's auth() and an OAuthClientProvider.
        node("ts-oauth", "ts-sdk-oauth.test.mjs"),
        // The same flow with the v2 client package's auth() (it also checks RFC 9207 `iss`).
        node("ts-v2-oauth", "ts-client-v2-oauth.test.mjs"),
        pytest("python-session", "test_mcp_sdk.py"),
        pytest("python-client-auto", "test_mcp_client_auto.py"),
        // OAuth 2.1 end to end with the SDK's OAuthClientProvider (MCP authorization 2025-11-25).
        pytest("python-oauth", "test_mcp_oauth.py"),
        schemathesis("schemathesis-auth", true),
        schemathesis("schemathesis-anon", false),
    ]
}

/// Registers a user with todo-api and returns its bearer token.
async fn register(api: &str, email: &str) -> Result<String> {
    let session: serde_json::Value = reqwest::Client::new()
        .post(format!("{api}/api/auth/register"))
        .json(
            &serde_json::json!({"email": email, "password": "interop-password", "name": "Interop"}),
        )
        .send()
        .await?
        .error_for_status()
        .context("registering the schemathesis user")?
        .json()
        .await?;
    Ok(session["token"]
        .as_str()
        .context("no token in the register response")?
        .to_owned())
}

/// Runs one client to completion (or its timeout), streaming its output.
fn run_client(client: &Client) -> Outcome {
    eprintln!("--> interop client {}", client.name);
    let started = Instant::now();
    let mut outcome = Outcome {
        name: client.name,
        seconds: 0.0,
        passed: 0,
        failed: 0,
        failures: Vec::new(),
        problem: None,
        reproduce: client.reproduce.clone(),
    };
    let status = run_process(client, &mut outcome);
    if let Report::Junit(path) = &client.report {
        match std::fs::read_to_string(path) {
            Ok(xml) => {
                let junit = parse_junit(&xml);
                outcome.passed = junit.passed;
                outcome.failed = junit.failed;
                outcome.failures = junit.failures;
                // Counted like the test runners' lines.
                println!("tests: {} passed, {} failed", junit.passed, junit.failed);
            }
            Err(e) => {
                outcome.problem = Some(format!("no JUnit report at {} ({e})", path.display()));
            }
        }
    }
    match status {
        Err(e) => outcome.problem = Some(format!("{e:#}")),
        // A failing exit with no failing test: a crash, a usage error, a schemathesis error.
        Ok(status) if !status.success() && outcome.failed == 0 => {
            outcome
                .problem
                .get_or_insert(format!("exited with {status} without a failing test"));
        }
        Ok(_) => {}
    }
    if outcome.problem.is_none() && outcome.passed + outcome.failed == 0 {
        outcome.problem = Some("no test ran".into());
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "<-- interop client {} ({:.1}s): {} passed, {} failed",
        client.name, outcome.seconds, outcome.passed, outcome.failed
    );
    outcome
}

/// Spawns the client in its own process group, prints and counts its stdout, and kills the
/// group at the timeout.
fn run_process(client: &Client, outcome: &mut Outcome) -> Result<std::process::ExitStatus> {
    let mut command = Command::new(&client.program);
    command
        .args(&client.args)
        .current_dir(&client.cwd)
        .envs(client.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", client.program.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + client.timeout;
    let mut counted = Tally::default();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                println!("{line}");
                if matches!(client.report, Report::Lines) {
                    count_line(&line, &mut counted);
                    // node's reporter and pytest's short summary (`ERROR`: a fixture failed).
                    if let Some(failure) = line
                        .strip_prefix("FAILED ")
                        .or_else(|| line.strip_prefix("ERROR "))
                    {
                        outcome.failures.push(failure.to_owned());
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                kill_group(&mut child);
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait()?;
    let _ = reader.join();
    outcome.passed = counted.passed;
    outcome.failed = counted.failed;
    if timed_out {
        bail!(
            "timed out after {}s and was killed",
            client.timeout.as_secs()
        );
    }
    Ok(status)
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

/// A JUnit report's counts and one line per failing test case.
struct Junit {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

/// Reads schemathesis' JUnit XML: a `<testcase name="GET /api/tasks">` per operation, with a
/// `<failure>` whose text lists each problem as `- ST103 Undocumented status code` followed by
/// indented details (`Received: 500`).
fn parse_junit(xml: &str) -> Junit {
    let mut passed = 0;
    let mut failed = 0;
    let mut failures = Vec::new();
    for case in xml.split("<testcase").skip(1) {
        let case = case.split("</testcase>").next().unwrap_or_default();
        let name = attribute(case, "name").unwrap_or_default();
        let head_end = case.find('>').unwrap_or(case.len());
        if case[..head_end].contains("skipped") || case.contains("<skipped") {
            continue;
        }
        if !case.contains("<failure") && !case.contains("<error") {
            passed += 1;
            continue;
        }
        failed += 1;
        let body = unescape(case);
        let mut problems: Vec<String> = Vec::new();
        let mut lines = body.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(check) = line.trim_start().strip_prefix("- ST") else {
                continue;
            };
            let mut problem = format!("ST{}", check.trim());
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() {
                    lines.next();
                    continue;
                }
                if next.starts_with("    ") && !next.trim_start().starts_with("- ST") {
                    problem.push_str(&format!(" ({})", next.trim()));
                }
                break;
            }
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
        if problems.is_empty() {
            problems.push(attribute(case, "message").unwrap_or_else(|| "failed".into()));
        }
        failures.push(format!("{}: {}", unescape(&name), problems.join("; ")));
    }
    Junit {
        passed,
        failed,
        failures,
    }
}

/// The value of `name="..."` in the first tag of `element`.
fn attribute(element: &str, name: &str) -> Option<String> {
    let head = element.split('>').next()?;
    let start = head.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = head[start..].find('"')?;
    Some(head[start..start + len].to_owned())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUNIT: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="0" failures="2" skipped="0" tests="3" time="16.1">
  <testsuite name="schemathesis" hostname="vm" errors="0" failures="2" skipped="0" tests="3" time="16.1">
    <testcase name="POST /api/auth/login" time="7.0">
      <failure type="failure" message="ST103">1. Test Case ID: 6XctpJ

- ST103 Undocumented status code

    Received: 415
    Documented: 200, 400, 401, 422, 429

[415] Unsupported Media Type:

    `{&quot;error&quot;:{}}`
</failure>
    </testcase>
    <testcase name="GET /api/tasks/{id}" time="0.7">
      <failure type="failure" message="ST101">1. Test Case ID: a

- ST101 Server error

- ST103 Undocumented status code

    Received: 500
</failure>
    </testcase>
    <testcase name="GET /livez" time="0.1"/>
  </testsuite>
</testsuites>"#;

    #[test]
    fn reads_schemathesis_junit() {
        let junit = parse_junit(JUNIT);
        assert_eq!((junit.passed, junit.failed), (1, 2));
        assert_eq!(
            junit.failures,
            [
                "POST /api/auth/login: ST103 Undocumented status code (Received: 415)",
                "GET /api/tasks/{id}: ST101 Server error; ST103 Undocumented status code (Received: 500)",
            ]
        );
    }

    #[test]
    fn reads_attributes_and_entities() {
        assert_eq!(
            attribute(r#" name="a &amp; b" time="1">"#, "name").as_deref(),
            Some("a &amp; b")
        );
        assert_eq!(attribute(r#" time="1">"#, "name"), None);
        assert_eq!(unescape("&quot;&amp;lt;&quot;"), "\"&lt;\"");
    }

    #[test]
    fn reports_name_the_client_the_checks_and_the_command() {
        let outcome = Outcome {
            name: "ts-sdk-v1",
            seconds: 1.0,
            passed: 3,
            failed: 1,
            failures: vec!["suite › add_task: empty title: threw McpError".into()],
            problem: None,
            reproduce: "cd x && node --test f.mjs".into(),
        };
        let text = failure_report(&[&outcome]);
        assert!(text.contains("`ts-sdk-v1`: 3 passed, 1 failed"), "{text}");
        assert!(text.contains("  - suite › add_task: empty title"), "{text}");
        assert!(
            text.contains(&format!("INTEROP_ONLY=ts-sdk-v1 {STEP_COMMAND}")),
            "{text}"
        );
        assert!(text.contains("cd x && node --test f.mjs"), "{text}");
    }

    #[test]
    fn counts_node_reporter_and_pytest_lines() {
        let mut t = Tally::default();
        count_line("tests: 12 passed, 47 failed", &mut t);
        count_line("37 failed, 8 passed in 25.61s", &mut t);
        count_line("FAILED suite › x: 1 passed in 2 runs", &mut t);
        assert_eq!((t.passed, t.failed), (20, 84));
    }
}
