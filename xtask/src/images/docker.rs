//! A private Docker engine for the image checks: Debian's `dockerd` started as root with its
//! own data root, exec root, pid file and socket, so it touches nothing of a Docker the
//! machine may already run. No bridge and no iptables (the containers use the host network,
//! as the other run checks do); the vfs storage driver, which needs no kernel support.

use anyhow::{Context, Result, bail, ensure};
use oci_image::runc::Stopper;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALLER: &str = ".ci/install/50-docker.sh";

/// A running `dockerd`; stopped (and its state removed) when dropped.
pub struct Daemon {
    child: Child,
    docker: PathBuf,
    /// `unix://<dir>/docker.sock`.
    host: String,
    dir: PathBuf,
}

impl Daemon {
    /// Starts dockerd with its state under `dir` and waits until it answers.
    pub fn start(dir: &Path) -> Result<Daemon> {
        let need = |tool: &str| {
            oci_image::tools::find(tool).with_context(|| {
                format!("{tool} not found: run `bash {INSTALLER}` (apt-get install docker.io)")
            })
        };
        let dockerd = need("dockerd")?;
        let docker = need("docker")?;
        std::fs::create_dir_all(dir)?;
        // A Unix socket path must stay under ~100 bytes.
        let host = format!("unix://{}", dir.join("docker.sock").display());
        ensure!(
            host.len() < 100,
            "socket path {host} is too long for a Unix socket"
        );
        let log = std::fs::File::create(dir.join("dockerd.log"))?;
        let child = Command::new(&dockerd)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .args(["-H", &host])
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting dockerd")?;
        let mut daemon = Daemon {
            child,
            docker,
            host,
            dir: dir.to_path_buf(),
        };
        let started = Instant::now();
        loop {
            if let Some(status) = daemon.child.try_wait()? {
                bail!("dockerd exited ({status}) at start:\n{}", daemon.log_tail());
            }
            let ok = daemon
                .command()
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "dockerd did not answer on {} within 60 s:\n{}",
                    daemon.host,
                    daemon.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let version = daemon.output(&["version", "--format", "{{.Server.Version}}"])?;
        eprintln!("  dockerd {} on {}", version.trim(), daemon.host);
        Ok(daemon)
    }

    /// `docker -H <our socket>`.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.docker);
        command.args(["-H", &self.host]);
        command
    }

    /// How a `docker run` container of this daemon is signalled.
    pub fn stopper(&self) -> Stopper {
        Stopper::Docker {
            docker: self.docker.clone(),
            host: self.host.clone(),
        }
    }

    fn output(&self, args: &[&str]) -> Result<String> {
        let out = self
            .command()
            .args(args)
            .output()
            .with_context(|| format!("running docker {}", args.join(" ")))?;
        ensure!(
            out.status.success(),
            "docker {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `docker load -i ARCHIVE`; returns the `name:tag` it loaded.
    pub fn load(&self, archive: &Path) -> Result<String> {
        let path = archive.display().to_string();
        let out = self.output(&["load", "--input", &path])?;
        loaded_reference(&out)
            .with_context(|| format!("docker load of {path} named no image: {}", out.trim()))
    }

    /// Polls the container's Healthcheck until it reports `healthy` (the image's own test,
    /// run by Docker every second via `--health-interval 1s`).
    pub fn wait_healthy(&self, id: &str, timeout: Duration) -> Result<String> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < timeout {
            last = self
                .output(&["inspect", "--format", "{{.State.Health.Status}}", id])
                .unwrap_or_default()
                .trim()
                .to_owned();
            if last == "healthy" {
                return Ok(format!(
                    "healthy after {:.1}s",
                    started.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = self
            .output(&["inspect", "--format", "{{json .State.Health}}", id])
            .unwrap_or_default();
        bail!("{id}: Healthcheck still {last:?} after {timeout:?}: {log}")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// The reference from `docker load` output (`Loaded image: todo-api:0123abcd`).
pub fn loaded_reference(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Loaded image: "))
        .map(|r| r.trim().to_owned())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .output();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // vfs keeps a full copy of every layer; nobody needs them after the check.
        let _ = std::fs::remove_dir_all(self.dir.join("data"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_loaded_reference() {
        assert_eq!(
            loaded_reference("Loaded image: todo-api:0123456789abcdef\n").as_deref(),
            Some("todo-api:0123456789abcdef")
        );
        assert_eq!(loaded_reference("Loaded image ID: sha256:abc\n"), None);
    }
}
