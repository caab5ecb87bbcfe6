//! `cargo xtask db backup|restore`: a PostgreSQL backup of the todo database and the way
//! back, with PostgreSQL's own tools in their custom format (`pg_dump -Fc`, the same format
//! as the chart's backup CronJob, so its files restore the same way).
//!
//! The database is `--database-url` or `DATABASE_URL`, the same URL `cargo xtask dev
//! --database-url` runs the stack on. The password is handed to the tools in `PGPASSWORD`,
//! never on their command line (where `ps` would show it). A backup is written to a
//! `.partial` file and renamed when complete, so a failed run never leaves a truncated file
//! that looks like a backup. A restore runs in one transaction: if it fails, the data it was
//! meant to replace is still there.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Back up or restore the todo database (pg_dump custom format).
#[derive(clap::Args)]
pub struct Cmd {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Dump the database to a file (default backups/todo-<UTC time>.dump).
    Backup {
        /// Where to write the backup.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The database (as `cargo xtask dev --database-url` uses it).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Replace the database's contents with a backup from `db backup` or the chart's CronJob.
    /// Stop the services first (Ctrl-C `cargo xtask dev`); they migrate any newer schema on
    /// their next start.
    Restore {
        /// A `pg_dump -Fc` file.
        file: PathBuf,
        /// The database to restore into.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
        database_url: Option<String>,
        /// Restore even while other sessions use the database (their locks may stall it).
        #[arg(long)]
        force: bool,
    },
}

impl Cmd {
    pub fn run(self, _sh: &xshell::Shell) -> Result<()> {
        match self.action {
            Action::Backup { out, database_url } => {
                let db = Database::parse(&required(database_url)?)?;
                let out = match out {
                    Some(out) => out,
                    None => default_backup_path()?,
                };
                let report = backup(&db, &out)?;
                println!(
                    "backup of {} written to {} ({}, {} tables with data, {:.1} s)",
                    db.name,
                    out.display(),
                    human_size(report.bytes),
                    report.tables,
                    report.seconds
                );
                println!("restore it with: cargo xtask db restore {}", out.display());
                Ok(())
            }
            Action::Restore {
                file,
                database_url,
                force,
            } => {
                let db = Database::parse(&required(database_url)?)?;
                if !force {
                    refuse_while_in_use(&db)?;
                }
                let report = restore(&db, &file)?;
                println!(
                    "restored {} into {} ({} tables with data, {:.1} s); start the services again (`cargo xtask dev --database-url ...`)",
                    file.display(),
                    db.name,
                    report.tables,
                    report.seconds
                );
                Ok(())
            }
        }
    }
}

fn required(url: Option<String>) -> Result<String> {
    match url {
        Some(url) if !url.trim().is_empty() => Ok(url),
        _ => bail!(
            "no database given: pass --database-url URL or set DATABASE_URL. \
             `cargo xtask dev` keeps its data only when started with --database-url \
             (its default throwaway PostgreSQL is removed on exit), so give both the same URL"
        ),
    }
}

/// A database URL split into what the PostgreSQL tools take: the URL without its password,
/// the password (for `PGPASSWORD`) and a printable name.
pub struct Database {
    url: String,
    password: Option<String>,
    /// `host:port/db`, for messages.
    pub name: String,
}

impl Database {
    pub fn parse(raw: &str) -> Result<Database> {
        let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| {
            anyhow::anyhow!(
                "the database URL is not valid ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DB"
            )
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            bail!(
                "the database URL starts with {}://; expected postgres://USER:PASSWORD@HOST:PORT/DB",
                url.scheme()
            );
        }
        let password = url.password().map(percent_decode);
        if password.is_some() && url.set_password(None).is_err() {
            bail!(
                "the database URL has a password but no host; expected postgres://USER:PASSWORD@HOST:PORT/DB"
            );
        }
        let name = format!(
            "{}:{}{}",
            url.host_str().unwrap_or("localhost"),
            url.port().unwrap_or(5432),
            url.path()
        );
        Ok(Database {
            url: url.to_string(),
            password,
            name,
        })
    }

    fn command(&self, tool: &str) -> Result<Command> {
        let bin = throwaway_postgres::bin_dir()
            .with_context(|| format!("finding {tool} (it comes with PostgreSQL's client tools)"))?;
        let path = bin.join(tool);
        let mut cmd = Command::new(if path.exists() { path } else { tool.into() });
        if let Some(password) = &self.password {
            cmd.env("PGPASSWORD", password);
        }
        // Fail instead of waiting on a password prompt no one sees.
        cmd.arg("--no-password").stdin(Stdio::null());
        Ok(cmd)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug)]
pub struct Report {
    pub bytes: u64,
    pub tables: usize,
    pub seconds: f64,
}

fn default_backup_path() -> Result<PathBuf> {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .context("formatting the backup's time stamp")?;
    // In the project, whatever directory cargo was run from.
    Ok(crate::util::project_root()
        .join("backups")
        .join(format!("todo-{stamp}.dump")))
}

/// Dumps `db` to `out` in pg_dump's custom format, printing each table as it goes.
pub fn backup(db: &Database, out: &Path) -> Result<Report> {
    let started = Instant::now();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {} for the backup", dir.display()))?;
    }
    let partial = out.with_extension("partial");
    println!("backing up {} to {} ...", db.name, out.display());
    let mut cmd = db.command("pg_dump")?;
    cmd.args([
        "--format=custom",
        "--verbose",
        "--no-owner",
        "--no-privileges",
    ])
    .arg("--file")
    .arg(&partial)
    .arg("--dbname")
    .arg(&db.url);
    let tables = run_with_progress(cmd, "pg_dump", "dumping contents of table ").map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        e.context(format!(
            "backing up {}: is the database running and the URL right? (`cargo xtask dev --database-url URL` runs the stack on it)",
            db.name
        ))
    })?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("moving the finished backup to {}", out.display()))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        bytes,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Fails while other sessions are connected to the database: a running service holds locks
/// the restore's `DROP TABLE`s wait for without end (the archive itself turns
/// `lock_timeout` off), and it would write into tables being replaced.
fn refuse_while_in_use(db: &Database) -> Result<()> {
    let mut psql = db.command("psql")?;
    psql.args(["-X", "-q", "-At", "--dbname"]).arg(&db.url).args([
        "-c",
        "SELECT count(*) || ' (' || coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), usename::text), ', '), '') || ')' \
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend'",
    ]);
    let out = psql
        .output()
        .context("running psql to see who uses the database")?;
    if !out.status.success() {
        bail!(
            "cannot reach {} to restore into it: {}; is the database running and the URL right?",
            db.name,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !answer.starts_with("0 ") {
        bail!(
            "{answer} other sessions are connected to {}: stop the services first (Ctrl-C `cargo xtask dev`; in a cluster scale todo-api and todo-mcp to 0), or pass --force",
            db.name
        );
    }
    Ok(())
}

/// Replaces the contents of `db` with the backup in `file`, in one transaction.
pub fn restore(db: &Database, file: &Path) -> Result<Report> {
    let started = Instant::now();
    if !file.is_file() {
        bail!(
            "{} does not exist or is not a file; pass a backup made by `cargo xtask db backup` (or `pg_dump -Fc`)",
            file.display()
        );
    }
    // Read the archive's table of contents first: a wrong file fails here, before anything
    // in the database is touched.
    let mut list = db.command("pg_restore")?;
    list.arg("--list").arg(file);
    let listing = list.output().context("running pg_restore --list")?;
    if !listing.status.success() {
        bail!(
            "{} is not a backup pg_restore can read ({}); pass a file made by `cargo xtask db backup` or `pg_dump -Fc` (plain SQL dumps restore with psql instead)",
            file.display(),
            String::from_utf8_lossy(&listing.stderr).trim()
        );
    }
    println!(
        "restoring {} into {}: its tables are replaced by the backup's ...",
        file.display(),
        db.name
    );
    let mut cmd = db.command("pg_restore")?;
    cmd.args([
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--verbose",
    ])
    .arg("--dbname")
    .arg(&db.url)
    .arg(file);
    let tables = run_with_progress(cmd, "pg_restore", "processing data for table ").map_err(|e| {
        e.context(format!(
            "restoring {} into {} (nothing was changed: the restore runs in one transaction). Stop the services using the database and try again",
            file.display(),
            db.name
        ))
    })?;
    Ok(Report {
        bytes: 0,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs a verbose pg_dump/pg_restore, printing one line per table whose data it handles
/// (the lines starting with `marker`), and returns how many there were. On failure the
/// error carries the tool's own last lines, which say what went wrong.
fn run_with_progress(mut cmd: Command, tool: &str, marker: &str) -> Result<usize> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {tool}"))?;
    let mut tables = 0;
    let mut messages = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.with_context(|| format!("reading {tool}'s output"))?;
            let text = line
                .strip_prefix(&format!("{tool}: "))
                .unwrap_or(&line)
                .to_owned();
            if let Some(table) = text.strip_prefix(marker) {
                tables += 1;
                println!("  table {}", table.trim_matches('"'));
            } else if text.starts_with("error") || text.starts_with("warning") {
                eprintln!("  {text}");
                messages.push(text);
            } else {
                // Kept for the error message; the per-object chatter is not printed.
                messages.push(text);
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {tool}"))?;
    if !status.success() {
        let errors: Vec<&String> = messages.iter().filter(|m| m.starts_with("error")).collect();
        let tail = if errors.is_empty() {
            messages
                .iter()
                .rev()
                .take(3)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            errors
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        };
        bail!("{tool} failed ({status}): {tail}");
    }
    Ok(tables)
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use throwaway_postgres::PgServer;

    /// Runs SQL with psql and returns its unaligned output.
    fn psql(url: &str, sql: &str) -> String {
        let bin = throwaway_postgres::bin_dir().unwrap();
        let out = Command::new(bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The real schema: todo-store's migrations, in order.
    fn migrate(url: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/todo-store/migrations");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for file in files {
            psql(url, &std::fs::read_to_string(&file).unwrap());
        }
    }

    fn titles(url: &str) -> String {
        psql(
            url,
            "SELECT string_agg(title, '|' ORDER BY number) FROM tasks",
        )
    }

    #[test]
    fn a_backup_brings_deleted_and_changed_tasks_back() {
        let pg = PgServer::start().unwrap();
        let url = pg.create_database("todo").unwrap();
        migrate(&url);
        psql(
            &url,
            "INSERT INTO users (id, email, name, password_hash, task_counter) \
             VALUES ('00000000-0000-4000-8000-000000000001', 'ann@example.com', 'Ann', 'x', 3); \
             INSERT INTO tasks (id, user_id, number, title) VALUES \
             ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 1, 'Water the plants'), \
             ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000001', 2, 'Buy oat milk'), \
             ('00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-000000000001', 3, 'Call the plumber')",
        );
        let before = titles(&url);
        assert_eq!(before, "Water the plants|Buy oat milk|Call the plumber");

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/todo.dump");
        let db = Database::parse(&url).unwrap();
        let report = backup(&db, &out).unwrap();
        assert!(report.bytes > 0 && report.tables >= 3, "{}", report.tables);
        assert!(!out.with_extension("partial").exists());

        psql(
            &url,
            "DELETE FROM tasks WHERE number = 2; UPDATE tasks SET title = 'changed' WHERE number = 1; \
             INSERT INTO tasks (id, user_id, number, title) VALUES \
             ('00000000-0000-4000-8000-0000000000a9', '00000000-0000-4000-8000-000000000001', 9, 'added after the backup')",
        );
        assert_ne!(titles(&url), before);

        let report = restore(&db, &out).unwrap();
        assert!(report.tables >= 3);
        assert_eq!(titles(&url), before);
        assert_eq!(psql(&url, "SELECT count(*) FROM users"), "1");
        // Restored rows are whole rows: the task counter that numbers new tasks came back too.
        assert_eq!(psql(&url, "SELECT task_counter FROM users"), "3");
    }

    #[test]
    fn failures_say_what_to_do() {
        let pg = PgServer::start().unwrap();
        let url = pg.create_database("todo").unwrap();
        let db = Database::parse(&url).unwrap();
        let dir = tempfile::tempdir().unwrap();

        // Not a backup: refused before the database is touched.
        let junk = dir.path().join("junk.dump");
        std::fs::write(&junk, "not a dump").unwrap();
        let e = format!("{:#}", restore(&db, &junk).unwrap_err());
        assert!(e.contains("is not a backup pg_restore can read"), "{e}");
        let e = format!(
            "{:#}",
            restore(&db, &dir.path().join("missing.dump")).unwrap_err()
        );
        assert!(e.contains("does not exist"), "{e}");

        // A database that is not there: the error names it and leaves no partial file.
        pg.stop().unwrap();
        let out = dir.path().join("down.dump");
        let e = format!("{:#}", backup(&db, &out).unwrap_err());
        assert!(
            e.contains(&format!("backing up 127.0.0.1:{}/todo", pg.port())),
            "{e}"
        );
        assert!(e.contains("pg_dump failed"), "{e}");
        assert!(!out.exists() && !out.with_extension("partial").exists());

        // A database in use is not restored into.
        pg.start_again().unwrap();
        let busy = pg.database_url("todo");
        let holder = std::thread::spawn(move || {
            psql(&busy, "SELECT pg_sleep(3)");
        });
        let mut refused = None;
        for _ in 0..100 {
            if let Err(e) = refuse_while_in_use(&db) {
                refused = Some(e.to_string());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        holder.join().unwrap();
        let e = refused.expect("a connected session was not noticed");
        assert!(e.contains("other sessions are connected"), "{e}");
        assert!(e.contains("--force"), "{e}");
        refuse_while_in_use(&db).unwrap();

        let e = required(None).unwrap_err().to_string();
        assert!(e.contains("--database-url"), "{e}");
        assert!(Database::parse("mysql://x@y/z").is_err());
    }

    #[test]
    fn the_password_goes_to_pgpassword_not_the_command_line() {
        let db = Database::parse("postgres://todo:s%40cret@db.example:6543/todo?sslmode=require")
            .unwrap();
        assert_eq!(db.password.as_deref(), Some("s@cret"));
        assert!(!db.url.contains("cret"), "{}", db.url);
        assert!(db.url.contains("sslmode=require"));
        assert_eq!(db.name, "db.example:6543/todo");
    }
}
