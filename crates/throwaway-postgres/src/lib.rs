//! A real, disposable PostgreSQL server.
//!
//! Tests never mock the database: they either use `DATABASE_URL` (an existing server, e.g. in
//! a Nix check or a developer's own instance) or start a throwaway one here: `initdb` into a temp
//! dir, `postgres` on a free loopback port with `fsync=off`, removed afterwards.
//!
//! Why the process juggling:
//! - `initdb` refuses to run as root, so as root the server runs as `nobody` through `setpriv`.
//! - A server started for a whole test binary (see [`shared`]) is never dropped, so it must not
//!   outlive the process: `postgres` runs as a direct child with `--pdeathsig`, spawned from one
//!   thread that lives as long as the process (the death signal follows the spawning *thread*).
//!   A small watcher removes its data directory once the process and the server are gone;
//!   anything it missed is swept the next time a server starts.

use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Prefix of every data directory, so stale ones can be found and removed.
const DIR_PREFIX: &str = "throwaway-pg-";

/// A running PostgreSQL server owned by this value; dropping it stops the server and deletes
/// its data.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl PgServer {
    /// Creates a fresh cluster and starts it on a free port on 127.0.0.1.
    pub fn start() -> Result<PgServer> {
        sweep_stale_dirs();
        let bin = bin_dir()?;
        let run_as = if is_root() { Some(nobody_ids()?) } else { None };
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .context("creating a temp dir for PostgreSQL")?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("handing the PostgreSQL temp dir to the unprivileged user")?;
        }
        let data = dir.path().join("data");
        let out = privileged_command(run_as, &bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", bin.join("initdb").display()))?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let server = PgServer {
            dir,
            bin,
            run_as,
            port: free_port()?,
            child: Mutex::new(None),
        };
        server.start_again()?;
        Ok(server)
    }

    /// The superuser URL of the `postgres` database.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// The URL of database `name` on this server.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a new empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        create_database_at(&self.bin, &self.url(), name)
    }

    /// Turns TLS on with this certificate and key (PEM) and restarts the server, so clients
    /// can connect with `sslmode=verify-full`. Plain connections still work.
    pub fn enable_tls(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = self.dir.path().join("data");
        for (name, content) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("writing {}", path.display()))?;
            // PostgreSQL refuses a key others can read, or one it does not own.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            if let Some((uid, gid)) = self.run_as {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
        }
        let conf = data.join("postgresql.conf");
        let mut settings = std::fs::read_to_string(&conf)
            .with_context(|| format!("reading {}", conf.display()))?;
        settings
            .push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(&conf, settings).with_context(|| format!("writing {}", conf.display()))?;
        self.stop()?;
        self.start_again()
            .context("restarting PostgreSQL with TLS on (see server.log in its data dir)")
    }

    /// Stops the server (fast shutdown), keeping its data, so a test can see the database go away.
    pub fn stop(&self) -> Result<()> {
        let mut guard = self
            .child
            .lock()
            .map_err(|_| anyhow::anyhow!("server lock poisoned"))?;
        if let Some(mut child) = guard.take() {
            signal(child.id(), "INT")?;
            child.wait().context("waiting for PostgreSQL to stop")?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and data directory.
    pub fn start_again(&self) -> Result<()> {
        let mut guard = self
            .child
            .lock()
            .map_err(|_| anyhow::anyhow!("server lock poisoned"))?;
        if guard.is_some() {
            return Ok(());
        }
        let data = self.dir.path().join("data");
        let mut cmd = privileged_command(self.run_as, &self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(self.dir.path())
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=300", "-c", "shared_buffers=64MB"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(self.dir.path().join("server.log"))
                    .context("creating the PostgreSQL log file")?,
            ));
        let child = spawn_from_keeper(cmd)?;
        *guard = Some(child);
        drop(guard);
        self.wait_ready(Duration::from_secs(30))
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server and all its backends, so a test can see
    /// what happens when the database hangs instead of failing fast.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let guard = self
            .child
            .lock()
            .map_err(|_| anyhow::anyhow!("server lock poisoned"))?;
        let Some(child) = guard.as_ref() else {
            bail!("server is not running")
        };
        let sig = if frozen { "STOP" } else { "CONT" };
        let mut pids = vec![child.id()];
        pids.extend(children_of(child.id()));
        for pid in pids {
            signal(pid, sig)?;
        }
        Ok(())
    }

    /// For a server that is never dropped (the shared one): a watcher removes its data
    /// directory once this process and then the server are gone, so every test binary does not
    /// leave ~100 MB in the temp dir until the next sweep. A shell, because Rust has no safe
    /// exit hook and the server must be stopped (by its death signal) before its files go.
    fn remove_after_exit(&self) {
        let script = r#"
            while kill -0 "$1" 2>/dev/null; do sleep 1; done
            n=0
            while [ -e "$2/data/postmaster.pid" ] && [ "$n" -lt 300 ]; do sleep 0.2; n=$((n+1)); done
            rm -rf "$2"
        "#;
        // Best effort: without it the next start's sweep still removes the dir later.
        let _ = Command::new("sh")
            .args(["-c", script, "throwaway-pg-reaper"])
            .arg(std::process::id().to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            let exited = {
                let mut guard = self
                    .child
                    .lock()
                    .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
                match guard.as_mut() {
                    Some(child) => child.try_wait().ok().flatten().is_some(),
                    None => true,
                }
            };
            if exited || started.elapsed() > timeout {
                let log =
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                bail!(
                    "PostgreSQL did not become ready on port {}:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Where databases for tests come from: `DATABASE_URL`'s server when set, otherwise one
/// throwaway server started on first use and shared by the whole test binary.
pub enum TestDatabases {
    External { admin_url: String, bin: PathBuf },
    Throwaway(&'static PgServer),
}

/// The test databases source for this process (see [`TestDatabases`]).
pub fn shared() -> Result<&'static TestDatabases> {
    static SHARED: OnceLock<std::result::Result<TestDatabases, String>> = OnceLock::new();
    let init = || -> Result<TestDatabases> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Ok(TestDatabases::External {
                admin_url: url,
                bin: bin_dir()?,
            });
        }
        let server: &'static PgServer = Box::leak(Box::new(PgServer::start()?));
        server.remove_after_exit();
        Ok(TestDatabases::Throwaway(server))
    };
    SHARED
        .get_or_init(|| init().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("no PostgreSQL for tests: {e}"))
}

/// Creates a fresh, uniquely named database and returns its URL: each test gets its own.
pub fn fresh_database() -> Result<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        Instant::now().elapsed().subsec_nanos() % 1000
    );
    match shared()? {
        TestDatabases::Throwaway(server) => server.create_database(&name),
        TestDatabases::External { admin_url, bin } => create_database_at(bin, admin_url, &name),
    }
}

fn create_database_at(bin: &Path, admin_url: &str, name: &str) -> Result<String> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name {name:?} must be alphanumeric or underscore");
    }
    // CREATE DATABASE copies template1 and fails when another copy is in progress ("source
    // database is being accessed by other users"): one at a time per process, and retry
    // for the other processes (test binaries run in parallel against one server).
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let psql = bin.join("psql");
    let psql = if psql.exists() {
        psql
    } else {
        PathBuf::from("psql")
    };
    let mut attempt = 0;
    loop {
        let out = Command::new(&psql)
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-d", admin_url, "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", psql.display()))?;
        if out.status.success() {
            return Ok(replace_database(admin_url, name));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        attempt += 1;
        if stderr.contains("being accessed by other users") && attempt < 50 {
            std::thread::sleep(Duration::from_millis(20 * attempt));
            continue;
        }
        bail!("creating database {name} failed: {stderr}");
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL, keeping any query string.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The directory holding initdb/postgres/pg_isready/psql: `PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/<major>/bin` (Debian keeps them off PATH), else `postgres` on PATH (Nix).
pub fn bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("postgres").exists().then_some((major, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("postgres").exists() && dir.join("initdb").exists() {
                return Ok(dir);
            }
        }
    }
    bail!("{MISSING_BINARIES}")
}

/// What to do when the server binaries (`initdb`, `postgres`) are not found: per platform the
/// package that has them and where it puts them.
pub const MISSING_BINARIES: &str = "PostgreSQL server binaries (initdb, postgres) not found. Install them:
  Debian/Ubuntu:     sudo apt-get install -y postgresql   (found in /usr/lib/postgresql/<major>/bin)
  Fedora:            sudo dnf install -y postgresql-server   (puts them on PATH)
  macOS (Homebrew):  brew install postgresql@17   (then `export PATH=\"$(brew --prefix postgresql@17)/bin:$PATH\"`)
  Nix:               nix develop   (the dev shell has them)
or set PG_BIN_DIR to the directory holding them, or point DATABASE_URL at an existing server";

fn is_root() -> bool {
    // std has no geteuid; the owner of /proc/self is the effective user.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn nobody_ids() -> Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == "nobody" {
            return Ok((fields[2].parse()?, fields[3].parse()?));
        }
    }
    Ok((65534, 65534))
}

fn privileged_command(run_as: Option<(u32, u32)>, program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    if let Some((uid, gid)) = run_as {
        cmd.arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups");
    }
    // SIGTERM makes postgres do a smart shutdown once its parent (our keeper thread) is gone.
    cmd.args(["--pdeathsig", "TERM", "--"]).arg(program);
    cmd
}

/// Spawns `cmd` from a thread that lives as long as the process (see the module docs).
fn spawn_from_keeper(cmd: Command) -> Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("throwaway-postgres-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel sender is static, so this point is never reached while the
                // process lives; park just in case so the death signal is not sent early.
                loop {
                    std::thread::park();
                }
            })
            .ok();
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    keeper
        .lock()
        .map_err(|_| anyhow::anyhow!("keeper lock poisoned"))?
        .send((cmd, reply_tx))
        .map_err(|_| anyhow::anyhow!("the PostgreSQL keeper thread is gone"))?;
    reply_rx
        .recv()
        .context("the PostgreSQL keeper thread did not answer")?
        .context("starting postgres (is util-linux's setpriv installed?)")
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// Direct children of `pid`, read from /proc (the backends of a postmaster).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Removes data dirs of earlier runs whose server is no longer running.
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(DIR_PREFIX) {
            continue;
        }
        let pid_file = entry.path().join("data").join("postmaster.pid");
        let alive = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        // Never touch a young dir: initdb's single-user backend writes and removes its own pid
        // file, so a fresh dir can look dead for a moment. Stale dirs of killed runs are old.
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .map(|t| {
                t.elapsed()
                    .map(|e| e < Duration::from_secs(600))
                    .unwrap_or(true)
            })
            .unwrap_or(true);
        if !alive && !young {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(200),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn replaces_the_database_in_urls() {
        assert_eq!(
            replace_database("postgres://u:p@h:5/db", "x"),
            "postgres://u:p@h:5/x"
        );
        assert_eq!(
            replace_database("postgres://h/db?sslmode=require", "x"),
            "postgres://h/x?sslmode=require"
        );
        assert_eq!(replace_database("postgres://h:1", "x"), "postgres://h:1/x");
    }

    #[test]
    fn starts_creates_databases_stops_and_restarts() {
        let server = PgServer::start().unwrap();
        let port = server.port();
        assert!(port_open(port));
        let url = server.create_database("demo").unwrap();
        assert!(url.ends_with(&format!(":{port}/demo")));
        // Creating the same database twice is an error, proving the first one exists.
        assert!(server.create_database("demo").is_err());
        server.stop().unwrap();
        assert!(!port_open(port));
        server.start_again().unwrap();
        assert!(port_open(port));
        let dir = server.dir.path().to_path_buf();
        drop(server);
        assert!(!dir.exists(), "data dir removed on drop");
        assert!(!port_open(port), "server stopped on drop");
    }
}
