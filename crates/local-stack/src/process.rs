//! One service process.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where a service's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// Each line to stderr, prefixed with the service name, in this ANSI colour when given
    /// (see [`colour_enabled`]).
    Prefixed { colour: Option<u8> },
    /// Discarded (benchmarks: logging must not cost the load generator CPU).
    Quiet,
}

/// Whether output gets ANSI colours: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>). A log written to a file or read by
/// CI must stay plain text.
pub fn colour_enabled(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// [`colour_enabled`] for this process's stderr (where the service logs go).
pub fn stderr_colour() -> bool {
    use std::io::IsTerminal as _;
    colour_enabled(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// [`colour_enabled`] for this process's stdout.
pub fn stdout_colour() -> bool {
    use std::io::IsTerminal as _;
    colour_enabled(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Variables a service may take from the shell that starts the stack: where things are, the
/// locale, the CA bundle for outbound TLS, and how much to log.
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

/// A service's whole environment: the few [`INHERITED`] variables of `parent`, then `settings`
/// (which win). Anything else in the shell (a stray `LLM_BASE_URL`, `DATABASE_MAX_CONNECTIONS`,
/// `COOKIE_SECURE`) would silently change how tests, benchmarks and the smoke suite behave, so
/// it is not passed on: a setting reaches a service only when the stack says so.
pub fn service_environment(
    parent: impl IntoIterator<Item = (String, String)>,
    settings: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = parent
        .into_iter()
        .filter(|(k, _)| INHERITED.contains(&k.as_str()))
        .filter(|(k, _)| !settings.iter().any(|(s, _)| s == k))
        .collect();
    env.extend(
        settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

pub struct ServiceProcess {
    pub name: String,
    pub port: u16,
    child: Child,
    started: Instant,
}

impl ServiceProcess {
    /// Starts `binary serve` on `port` with `env` added to a minimal environment (see
    /// [`service_environment`]).
    pub fn spawn(
        name: &str,
        binary: &Path,
        port: u16,
        env: &[(&str, String)],
        log: LogMode,
    ) -> Result<ServiceProcess> {
        if !binary.exists() {
            bail!(
                "{} not found: build it first (`cargo build -p {name}`)",
                binary.display()
            );
        }
        let mut cmd = Command::new(binary);
        let port_setting = port.to_string();
        let mut settings = vec![("PORT", port_setting.as_str())];
        settings.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.arg("serve")
            .env_clear()
            .envs(service_environment(std::env::vars(), &settings))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match log {
            LogMode::Quiet => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
            LogMode::Prefixed { .. } => {
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        if let LogMode::Prefixed { colour } = log {
            let prefix = match colour {
                Some(colour) => format!("\x1b[{colour}m{name:>8} |\x1b[0m "),
                None => format!("{name:>8} | "),
            };
            if let Some(out) = child.stdout.take() {
                tokio::spawn(forward(BufReader::new(out), prefix.clone()));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(forward(BufReader::new(err), prefix));
            }
        }
        Ok(ServiceProcess {
            name: name.to_owned(),
            port,
            child,
            started,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200 and returns the time since spawn.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        let url = format!("{}/readyz", self.base_url());
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status() == 200
            {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before it was ready (see its log lines above)",
                    self.name
                );
            }
            if self.started.elapsed() > timeout {
                bail!(
                    "{} was not ready after {:?}: {url} did not answer 200",
                    self.name,
                    timeout
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then wait up to `grace` (SIGKILL after that). Returns whether it exited cleanly.
    pub async fn terminate(&mut self, grace: Duration) -> Result<bool> {
        let Some(pid) = self.child.id() else {
            return Ok(true);
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(status?.success()),
            Err(_) => {
                self.child.kill().await.ok();
                Ok(false)
            }
        }
    }
}

async fn forward<R: tokio::io::AsyncRead + Unpin>(reader: BufReader<R>, prefix: String) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{prefix}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_the_stacks_settings_and_a_few_shell_variables_reach_a_service() {
        let parent = vars(&[
            ("PATH", "/usr/bin"),
            ("LLM_BASE_URL", "https://api.example.com/v1"),
            ("LLM_API_KEY", "sk-from-the-shell"),
            ("DATABASE_MAX_CONNECTIONS", "1"),
            ("DATABASE_URL", "postgres://elsewhere/db"),
            ("RUST_LOG", "debug"),
        ]);
        let mut env = service_environment(
            parent,
            &[
                ("DATABASE_URL", "postgres://127.0.0.1:5432/todo"),
                ("RUST_LOG", "warn"),
            ],
        );
        env.sort();
        assert_eq!(
            env,
            vars(&[
                ("DATABASE_URL", "postgres://127.0.0.1:5432/todo"),
                ("PATH", "/usr/bin"),
                ("RUST_LOG", "warn"),
            ])
        );
    }

    #[test]
    fn a_setting_passed_on_purpose_reaches_the_service() {
        // `cargo xtask dev` forwards the shell's LLM_* this way.
        let env = service_environment(
            vars(&[("LLM_MODEL", "shell")]),
            &[("LLM_MODEL", "gpt-4o-mini")],
        );
        assert_eq!(env, vars(&[("LLM_MODEL", "gpt-4o-mini")]));
    }

    /// The colour decision from a fake TTY flag and `NO_COLOR` values.
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour_enabled(true, None));
        assert!(!colour_enabled(false, None), "a file or a CI log");
        assert!(!colour_enabled(true, Some(OsStr::new("1"))));
        assert!(!colour_enabled(true, Some(OsStr::new("yes"))));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(colour_enabled(true, Some(OsStr::new(""))));
        assert!(!colour_enabled(false, Some(OsStr::new(""))));
    }
}
