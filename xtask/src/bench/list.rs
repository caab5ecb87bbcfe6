//! `cargo xtask bench api --tasks 1000,10000,100000`: the task list at each list size.
//!
//! - One user per size, all in one database (so each user's tasks sit among the others'),
//!   seeded with SQL: a third completed, priorities, tags and due dates mixed.
//! - The first page and a deep cursor page (90% of the way down) of each user, at 1 and 64
//!   connections: throughput, p50, p99. Flat cost means the 100,000 row matches the 1,000 one.
//! - The API against the database's own limit: the SQL the store sent for one request of the
//!   first page (captured from PostgreSQL's statement log, with its parameters) run by
//!   `pgbench -M prepared` at the same concurrency on the same server. The runs alternate
//!   (API, pgbench, API, ...) `--repeats` times, because the machine is shared.
//! - The first page at fixed rates (25/50/75% of its closed-loop throughput): latency below
//!   saturation.

use super::{at_fixed_rates, ms};
use anyhow::{Context, Result, bail};
use http_bench::{LoadGenerator, Report, Target};
use smoke_suite::todo_wire as wire;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the list bench needs of the running stack.
pub struct Stack<'a> {
    pub db_url: &'a str,
    pub api: &'a str,
    pub client: &'a reqwest::Client,
    pub load: &'a LoadGenerator,
    pub db_pool: u32,
}

/// Concurrencies of the pgbench comparison: the 16, and 64.
const RATIO_CONNECTIONS: [usize; 2] = [16, 64];
/// Concurrencies of the size table.
const SIZE_CONNECTIONS: [usize; 2] = [1, 64];

struct Size {
    tasks: u64,
    auth: String,
    first: String,
    deep: String,
}

pub async fn run(stack: &Stack<'_>, sizes: &[u64], seconds: u64, repeats: usize) -> Result<()> {
    let duration = Duration::from_secs(seconds);
    let psql = Psql::new(stack.db_url)?;
    let mut users = Vec::new();
    for &tasks in sizes {
        let email = format!("list{tasks}@example.com");
        let token = super::register(stack.client, stack.api, &email).await?;
        let id = psql.query(&format!("SELECT id FROM users WHERE email = '{email}'"))?;
        eprintln!("seeding {tasks} tasks for {email}...");
        psql.query(&seed_sql(id.trim(), tasks))?;
        users.push((tasks, token));
    }
    // As autovacuum would have by now: statistics and the visibility map.
    psql.query("VACUUM ANALYZE tasks")?;

    let mut list = Vec::new();
    for (tasks, token) in users {
        let auth = format!("Bearer {token}");
        let first = format!("{}/api/tasks?limit=50", stack.api);
        let cursor = cursor_at(stack.client, stack.api, &auth, tasks * 9 / 10).await?;
        let deep = format!("{first}&cursor={cursor}");
        list.push(Size {
            tasks,
            auth,
            first,
            deep,
        });
    }

    let target = |url: &str, auth: &str| vec![Target::get(url).header("authorization", auth)];
    let mut table: Vec<(u64, &str, usize, Report)> = Vec::new();
    for size in &list {
        for connections in SIZE_CONNECTIONS {
            for (page, url) in [("first page", &size.first), ("deep cursor", &size.deep)] {
                eprintln!(
                    "{} tasks, {page}, {connections} connection(s)...",
                    size.tasks
                );
                let report = stack
                    .load
                    .run(target(url, &size.auth), connections, duration)
                    .await?;
                table.push((size.tasks, page, connections, report));
            }
        }
    }

    // The pgbench comparison on the first page of the smallest and the largest list.
    let mut ratios = Vec::new();
    let compared: Vec<&Size> = match (list.first(), list.last()) {
        (Some(a), Some(b)) if a.tasks != b.tasks => vec![a, b],
        (Some(a), _) => vec![a],
        _ => Vec::new(),
    };
    for size in compared {
        let statements = capture_statements(stack, &psql, &size.first, &size.auth).await?;
        for statement in &statements {
            let sql: String = statement
                .sql
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let short: String = sql.chars().take(110).collect();
            eprintln!(
                "{} tasks, pgbench runs: {short}... ({} parameters)",
                size.tasks,
                statement.params.len()
            );
        }
        let script = pgbench_script(&statements)?;
        for connections in RATIO_CONNECTIONS {
            let mut runs = Vec::new();
            for repeat in 0..repeats {
                eprintln!(
                    "{} tasks, first page, {connections} connections: API then pgbench ({}/{repeats})...",
                    size.tasks,
                    repeat + 1
                );
                let api = stack
                    .load
                    .run(target(&size.first, &size.auth), connections, duration)
                    .await?;
                let tps = script.run(stack.db_url, connections, seconds)?;
                runs.push((api.rps(), tps));
            }
            ratios.push((size.tasks, connections, statements.len(), runs));
        }
    }

    let mut fixed = Vec::new();
    for size in &list {
        let capacity = table
            .iter()
            .find(|(n, page, c, _)| *n == size.tasks && *page == "first page" && *c == 64)
            .map(|(_, _, _, r)| r.rps())
            .unwrap_or(1.0);
        eprintln!("{} tasks, first page at fixed rates...", size.tasks);
        let rows = at_fixed_rates(
            stack.load,
            &target(&size.first, &size.auth),
            64,
            duration,
            capacity,
        )
        .await?;
        fixed.push((size.tasks, rows));
    }

    println!(
        "\nbench api --tasks: GET /api/tasks?limit=50, one user per size in one database, {seconds} s per run, release build, {} cores (shared: other work may run), API pool {} connections",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        stack.db_pool
    );
    for (tasks, page, connections, report) in &table {
        println!("  {tasks:>7} tasks  {page:<11} {connections:>2} conn  {report}");
    }
    let p50 = |n: u64| {
        table
            .iter()
            .find(|(t, page, c, _)| *t == n && *page == "first page" && *c == 1)
            .map(|(_, _, _, r)| ms(r.p50))
    };
    if let (Some(small), Some(large)) = (list.first(), list.last())
        && let (Some(a), Some(b)) = (p50(small.tasks), p50(large.tasks))
    {
        println!(
            "  first page p50 at 1 connection: {b:.2} ms at {} tasks vs {a:.2} ms at {} = {:.2}x (target <= 1.5x)",
            large.tasks,
            small.tasks,
            b / a
        );
    }
    println!(
        "  the API against the database: list requests/s / pgbench -M prepared transactions/s of the same SQL (one transaction = the statements of one request), runs alternating"
    );
    for (tasks, connections, statements, runs) in &ratios {
        let shares: Vec<f64> = runs.iter().map(|(api, pg)| api / pg).collect();
        let pairs: Vec<String> = runs
            .iter()
            .map(|(api, pg)| format!("{api:.0}/{pg:.0}"))
            .collect();
        println!(
            "    {tasks:>7} tasks {connections:>2} conn: {:.0}% (median of {}; API/pgbench per run: {}; {statements} statement(s) per request){}",
            median(&shares) * 100.0,
            shares.len(),
            pairs.join(", "),
            if *connections == 16 {
                " target >= 60%"
            } else {
                ""
            }
        );
    }
    println!("  first page at fixed rates, 64 connections (share of its closed-loop throughput):");
    for (tasks, rows) in &fixed {
        for (share, report) in rows {
            println!("    {tasks:>7} tasks at {:>3.0}%  {report}", share * 100.0);
        }
    }
    Ok(())
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// `n` tasks for the user: a third completed, priorities, 20 tags and due dates (70%) mixed,
/// creation times spread over a year; numbers 1..=n.
fn seed_sql(user: &str, n: u64) -> String {
    format!(
        "INSERT INTO tasks (id, user_id, number, title, description, completed, completed_at,
                            priority, due_at, tags, created_at, updated_at)
         SELECT gen_random_uuid(), '{user}', i, 'task ' || i || ' word' || (i % 97),
                CASE WHEN i % 2 = 0 THEN 'notes about thing' || (i % 89) END,
                i % 3 = 0, CASE WHEN i % 3 = 0 THEN now() END,
                (ARRAY['low', 'medium', 'high']::task_priority[])[1 + (i / 3) % 3],
                CASE WHEN i % 10 < 7 THEN now() + ((i * 7919) % 730 - 365) * interval '1 day' END,
                ARRAY['t' || (i % 20)],
                now() - (i % 365) * interval '1 day' - i * interval '1 second',
                now() - (i % 180) * interval '1 day' - i * interval '1 second'
         FROM generate_series(1, {n}) AS i;
         UPDATE users SET task_counter = {n} WHERE id = '{user}'"
    )
}

/// The `next_cursor` after `depth` tasks of the default sort (a multiple of 100 below the
/// list's size), walking 100 at a time.
async fn cursor_at(client: &reqwest::Client, api: &str, auth: &str, depth: u64) -> Result<String> {
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let mut url = format!("{api}/api/tasks?limit=100");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: wire::TaskPage = client
            .get(&url)
            .header("authorization", auth)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        seen += page.items.len() as u64;
        match page.next_cursor {
            Some(next) if seen < depth.max(1) => cursor = Some(next),
            Some(next) => return Ok(next),
            None => bail!("the list ended after {seen} tasks, before {depth}"),
        }
    }
}

/// psql against the bench database.
struct Psql {
    bin: PathBuf,
    url: String,
}

impl Psql {
    fn new(url: &str) -> Result<Psql> {
        Ok(Psql {
            bin: throwaway_postgres::bin_dir()?.join("psql"),
            url: url.to_owned(),
        })
    }

    fn query(&self, sql: &str) -> Result<String> {
        let out = std::process::Command::new(&self.bin)
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&self.url)
            .args(["-c", sql])
            .output()
            .with_context(|| format!("running {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "psql failed ({}): {}\nSQL: {sql}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A statement as the server executed it: SQL with `$n` and each parameter's text.
#[derive(Debug)]
struct Executed {
    sql: String,
    params: Vec<String>,
}

/// The statements one request to `url` executes, read from PostgreSQL's log: statement
/// logging on for the whole server (a reload reaches the API's open connections), one
/// request, logging off again.
async fn capture_statements(
    stack: &Stack<'_>,
    psql: &Psql,
    url: &str,
    auth: &str,
) -> Result<Vec<Executed>> {
    let data = psql.query("SHOW data_directory")?;
    let log = Path::new(data.trim())
        .parent()
        .context("the data directory has no parent")?
        .join("server.log");
    let get = || async {
        stack
            .client
            .get(url)
            .header("authorization", auth)
            .send()
            .await?
            .error_for_status()
    };
    // Warm: every pooled connection has prepared the statement already, as under load.
    get().await?;
    psql.query("ALTER SYSTEM SET log_min_duration_statement = 0")?;
    psql.query("SELECT pg_reload_conf()")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    get().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    psql.query("ALTER SYSTEM RESET log_min_duration_statement")?;
    psql.query("SELECT pg_reload_conf()")?;
    let text = std::fs::read(&log).with_context(|| format!("reading {}", log.display()))?;
    let text = String::from_utf8_lossy(text.get(start as usize..).unwrap_or_default());
    let statements = parse_log(&text);
    if statements.is_empty() {
        bail!(
            "no statement of the list request in {} (statement logging did not take effect?)",
            log.display()
        );
    }
    Ok(statements)
}

/// `execute <name>: SQL` lines, each with its `DETAIL:  Parameters: $1 = '...', ...` line.
/// The psql sessions' own statements (`ALTER SYSTEM`, `pg_reload_conf`) are left out.
fn parse_log(text: &str) -> Vec<Executed> {
    let mut out: Vec<Executed> = Vec::new();
    // A multi-line statement goes on in lines starting with a tab.
    let mut in_statement = false;
    for line in text.lines() {
        if let Some(more) = line.strip_prefix('\t') {
            if in_statement && let Some(last) = out.last_mut() {
                last.sql.push('\n');
                last.sql.push_str(more);
            }
            continue;
        }
        in_statement = false;
        if let Some(at) = line.find(" execute ") {
            in_statement = true;
            let rest = &line[at + " execute ".len()..];
            if let Some((_, sql)) = rest.split_once(": ") {
                out.push(Executed {
                    sql: sql.to_owned(),
                    params: Vec::new(),
                });
            }
        } else if let Some(at) = line.to_ascii_lowercase().find("detail:  parameters: ")
            && let Some(last) = out.last_mut()
            && last.params.is_empty()
        {
            last.params = parse_params(&line[at + "detail:  parameters: ".len()..]);
        }
    }
    out.retain(|s| !s.sql.contains("pg_reload_conf") && !s.sql.starts_with("ALTER SYSTEM"));
    out
}

/// `$1 = 'a', $2 = 'it''s', $3 = NULL` -> ["a", "it's", NULL as None -> empty].
fn parse_params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '=' {
            continue;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        value.push('\'');
                    } else {
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push(value);
    }
    out
}

/// A pgbench script of the captured statements, their parameters as `-D` variables.
struct PgbenchScript {
    file: tempfile::NamedTempFile,
    defines: Vec<String>,
}

fn pgbench_script(statements: &[Executed]) -> Result<PgbenchScript> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new()?;
    let mut defines = Vec::new();
    for (s, statement) in statements.iter().enumerate() {
        let mut sql = statement.sql.clone();
        // Highest first, so $1 does not eat the start of $10.
        for (n, value) in statement.params.iter().enumerate().rev() {
            let name = format!("s{s}p{}", n + 1);
            sql = sql.replace(&format!("${}", n + 1), &format!(":{name}"));
            defines.push(format!("{name}={value}"));
        }
        writeln!(file, "{sql};")?;
    }
    file.flush()?;
    Ok(PgbenchScript { file, defines })
}

impl PgbenchScript {
    /// Transactions per second of `pgbench -M prepared` at `clients` for `seconds`.
    fn run(&self, url: &str, clients: usize, seconds: u64) -> Result<f64> {
        let bin = throwaway_postgres::bin_dir()?.join("pgbench");
        let threads = clients.min(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        );
        let mut cmd = std::process::Command::new(&bin);
        cmd.args(["-n", "-M", "prepared", "-c", &clients.to_string()])
            .args(["-j", &threads.to_string(), "-T", &seconds.to_string()])
            .arg("-f")
            .arg(self.file.path());
        for define in &self.defines {
            cmd.args(["-D", define]);
        }
        let out = cmd
            .arg(url)
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "pgbench failed ({}): {}{}",
                out.status,
                stdout.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("tps = ")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .with_context(|| format!("no tps in pgbench's output: {stdout}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_parameters_come_out_of_the_log() {
        let log = "2026-12-01 17:00:00.000 UTC [9] LOG:  duration: 0.1 ms  parse sqlx_s_1: SELECT a FROM t WHERE x = $1 AND y = $2\n\
                   2026-12-01 17:00:00.000 UTC [9] LOG:  duration: 0.1 ms  execute sqlx_s_1: SELECT a FROM t WHERE x = $1 AND y = $2\n\
                   2026-12-01 17:00:00.000 UTC [9] DETAIL:  Parameters: $1 = 'it''s', $2 = '51'\n\
                   2026-12-01 17:00:00.000 UTC [10] LOG:  duration: 0.1 ms  statement: SELECT pg_reload_conf()\n\
                   2026-12-01 17:00:00.000 UTC [9] LOG:  duration: 0.1 ms  execute sqlx_s_2: SELECT b,\n\
                   \t c FROM u\n\
                   2026-12-01 17:00:00.000 UTC [9] DETAIL:  Parameters: $1 = '1'\n";
        let statements = parse_log(log);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert_eq!(statements[1].sql, "SELECT b,\n c FROM u");
        assert_eq!(statements[0].sql, "SELECT a FROM t WHERE x = $1 AND y = $2");
        assert_eq!(statements[0].params, ["it's", "51"]);
        let script = pgbench_script(&statements[..1]).ok();
        let text = script
            .as_ref()
            .and_then(|s| std::fs::read_to_string(s.file.path()).ok());
        assert_eq!(
            text.as_deref(),
            Some("SELECT a FROM t WHERE x = :s0p1 AND y = :s0p2;\n")
        );
        assert_eq!(
            script.map(|s| s.defines),
            Some(vec!["s0p2=51".to_owned(), "s0p1=it's".to_owned()])
        );
    }
}
