//! Runs an image for real: `umoci unpack` turns the archive into an OCI runtime bundle, the
//! bundle's `config.json` is hardened the way the Kubernetes deployment runs the services, and
//! `runc run` starts it.
//!
//! The recipe, and why each step:
//! - `process.terminal = false`: no TTY exists in CI; the output goes to a log file.
//! - `process.rlimits` removed: umoci copies rlimits above this machine's hard limits, and root
//!   here lacks CAP_SYS_RESOURCE, so runc would fail to apply them.
//! - `root.readonly = true` plus a tmpfs on `/tmp`: the pod runs with
//!   `readOnlyRootFilesystem` and an emptyDir on `/tmp`.
//! - uid/gid from the image (65532), no capabilities, `noNewPrivileges`: the pod's
//!   securityContext.
//! - the network namespace entry removed: the container shares the host network, so it reaches
//!   a PostgreSQL on loopback and the check reaches its port on 127.0.0.1.
//! - `/etc/hosts` and `/etc/resolv.conf` bind-mounted read-only, as the kubelet does.
//! - `runc run` in the foreground (not `-d`): it returns the container's exit code, which is
//!   how a clean shutdown after SIGTERM is verified.

use crate::tools;
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a container of the image runs.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub uid: u32,
    pub gid: u32,
    /// Set on top of the image's `Env` (same names are replaced).
    pub env: BTreeMap<String, String>,
    /// Replaces entrypoint + cmd when set (e.g. `["/bin/todo-api", "migrate"]`).
    pub args: Option<Vec<String>>,
    /// Host files or directories bound read-only into the container (e.g. a test CA).
    pub mounts: Vec<BindMount>,
}

/// A read-only bind mount: `source` on the host appears at `destination` in the container.
#[derive(Debug, Clone)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
}

/// Applies the recipe above to a bundle's `config.json`.
pub fn configure(config: &mut Value, settings: &RunSettings) -> Result<()> {
    let process = config
        .get_mut("process")
        .and_then(Value::as_object_mut)
        .context("bundle config has no process object")?;
    process.insert("terminal".into(), json!(false));
    process.remove("rlimits");
    process.insert("noNewPrivileges".into(), json!(true));
    process.insert(
        "user".into(),
        json!({"uid": settings.uid, "gid": settings.gid, "additionalGids": [settings.gid]}),
    );
    process.insert(
        "capabilities".into(),
        json!({"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []}),
    );
    let mut env: BTreeMap<String, String> = process
        .get("env")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    env.extend(settings.env.clone());
    process.insert(
        "env".into(),
        json!(
            env.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        ),
    );
    if let Some(args) = &settings.args {
        process.insert("args".into(), json!(args));
    }

    let root = config
        .get_mut("root")
        .and_then(Value::as_object_mut)
        .context("bundle config has no root object")?;
    root.insert("readonly".into(), json!(true));

    let namespaces = config
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
        .context("bundle config has no linux.namespaces")?;
    namespaces.retain(|ns| ns["type"] != "network");

    let mounts = config
        .get_mut("mounts")
        .and_then(Value::as_array_mut)
        .context("bundle config has no mounts")?;
    // sysfs cannot be mounted fresh without a network namespace of our own; bind the host's
    // read-only instead (what runc's docs recommend for host networking).
    for mount in mounts.iter_mut() {
        if mount["destination"] == "/sys" {
            *mount = json!({
                "destination": "/sys", "type": "none", "source": "/sys",
                "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
            });
        }
    }
    mounts.retain(|m| m["destination"] != "/tmp");
    mounts.push(json!({
        "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "mode=1777", "size=65536k"]
    }));
    for mount in &settings.mounts {
        mounts.retain(|m| m["destination"] != mount.destination.as_str());
        mounts.push(json!({
            "destination": mount.destination, "type": "bind",
            "source": mount.source.to_string_lossy(),
            "options": ["bind", "ro", "nosuid", "nodev", "noexec"]
        }));
    }
    for file in ["/etc/hosts", "/etc/resolv.conf"] {
        if Path::new(file).is_file() {
            mounts.retain(|m| m["destination"] != file);
            mounts.push(json!({
                "destination": file, "type": "bind", "source": file,
                "options": ["bind", "ro", "nosuid", "nodev", "noexec"]
            }));
        }
    }
    Ok(())
}

/// Unpacks `archive` into `work/bundle` (via an image layout in `work/layout`).
pub fn unpack(archive: &Path, work: &Path) -> Result<PathBuf> {
    let umoci = tools::require("umoci")?;
    let layout = work.join("layout");
    let bundle = work.join("bundle");
    crate::archive::extract_archive(archive, &layout)?;
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    let tag = index
        .pointer("/manifests/0/annotations")
        .and_then(|a| a.get(crate::image::ANNOTATION_REF_NAME))
        .and_then(Value::as_str)
        .context("index.json has no tag (org.opencontainers.image.ref.name)")?;
    let out = Command::new(&umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(&bundle)
        .output()
        .context("running umoci unpack")?;
    if !out.status.success() {
        bail!(
            "umoci unpack of {} failed ({}):\n{}{}",
            archive.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(bundle)
}

/// Reads, configures and writes back `bundle/config.json`.
pub fn configure_bundle(bundle: &Path, settings: &RunSettings) -> Result<()> {
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    configure(&mut config, settings)?;
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// runc with its own state directory (so tests never touch `/run/runc`).
#[derive(Debug, Clone)]
pub struct Runc {
    bin: PathBuf,
    state_root: PathBuf,
}

impl Runc {
    pub fn new(state_root: &Path) -> Result<Runc> {
        Ok(Runc {
            bin: tools::require("runc")?,
            state_root: state_root.to_path_buf(),
        })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.state_root);
        cmd
    }

    /// Starts `runc run` for `bundle` in the background, output to `log`.
    pub fn spawn(&self, id: &str, bundle: &Path, log: &Path) -> Result<Container> {
        let mut command = self.command();
        command.arg("run").arg("--bundle").arg(bundle).arg(id);
        Container::spawn(id, command, log, Stopper::Runc(self.clone()))
    }

    /// `runc kill ID SIGNAL`.
    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let out = self
            .command()
            .args(["kill", id, signal])
            .output()
            .context("running runc kill")?;
        ensure!(
            out.status.success(),
            "runc kill {id} {signal} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }

    /// `runc delete --force ID`, ignoring a container that is already gone.
    pub fn delete(&self, id: &str) {
        let _ = self.command().args(["delete", "--force", id]).output();
    }
}

/// How a [`Container`] is signalled and cleaned up.
#[derive(Debug, Clone)]
pub enum Stopper {
    /// `runc kill ID SIGNAL`; `runc delete --force ID` at the end.
    Runc(Runc),
    /// A plain process (a binary under qemu-user): `kill -SIGNAL PID`.
    Process,
    /// A foreground `docker run --name ID`: `docker kill --signal SIGNAL ID`; `docker rm -f`.
    Docker { docker: PathBuf, host: String },
}

/// A running container (`runc run`, `docker run`) or process, in the foreground of a child
/// process whose exit status is the service's; killed and cleaned up when dropped.
#[derive(Debug)]
pub struct Container {
    stopper: Stopper,
    id: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Container {
    /// Starts `command` (stdin closed, stdout and stderr to `log`).
    pub fn spawn(
        id: &str,
        mut command: Command,
        log: &Path,
        stopper: Stopper,
    ) -> Result<Container> {
        let out =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Container {
            stopper,
            id: id.to_owned(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends `signal` (`TERM`, `KILL`) to what runs inside.
    pub fn signal(&self, signal: &str) -> Result<()> {
        let output = match &self.stopper {
            Stopper::Runc(runc) => return runc.kill(&self.id, signal),
            Stopper::Process => {
                let pid = self
                    .child
                    .as_ref()
                    .map(Child::id)
                    .with_context(|| format!("{} has already exited", self.id))?;
                Command::new("kill")
                    .arg(format!("-{signal}"))
                    .arg(pid.to_string())
                    .output()
                    .context("running kill")?
            }
            Stopper::Docker { docker, host } => Command::new(docker)
                .args(["-H", host, "kill", "--signal", signal, &self.id])
                .output()
                .context("running docker kill")?,
        };
        ensure!(
            output.status.success(),
            "sending SIG{signal} to {} failed: {}",
            self.id,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    }

    /// The container's output so far (last 4 KiB).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[start..].to_owned()
    }

    /// The exit status if `runc run` has finished.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => bail!("container {} was already waited for", self.id),
        }
    }

    /// Polls `GET path` on `port` until it answers 200, failing early if the container exits.
    pub fn wait_http_ok(&mut self, port: u16, path: &str, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let mut last = String::from("no attempt yet");
        while started.elapsed() < timeout {
            if let Some(status) = self.try_wait()? {
                bail!(
                    "container {} exited ({status}) before {path} answered 200; its output:\n{}",
                    self.id,
                    self.log_tail()
                );
            }
            match crate::http::get(port, path, Duration::from_secs(2)) {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => last = format!("status {}: {}", r.status, r.body.trim()),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "container {}: GET {path} on port {port} did not answer 200 within {timeout:?} (last: {last}); its output:\n{}",
            self.id,
            self.log_tail()
        )
    }

    /// Waits for the container to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if started.elapsed() > timeout {
                bail!(
                    "container {} still running after {timeout:?}; its output:\n{}",
                    self.id,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.signal("TERM")?;
        self.wait(timeout)
            .with_context(|| format!("after SIGTERM to {}", self.id))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let running = self
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        if running {
            let _ = self.signal("KILL");
        }
        if let Some(mut child) = self.child.take() {
            if running {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        match &self.stopper {
            Stopper::Runc(runc) => runc.delete(&self.id),
            Stopper::Process => {}
            Stopper::Docker { docker, host } => {
                let _ = Command::new(docker)
                    .args(["-H", host, "rm", "--force", &self.id])
                    .output();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Trimmed from what umoci 0.4.7 writes.
    fn umoci_config() -> Value {
        json!({
            "ociVersion": "1.0.0",
            "process": {
                "terminal": true,
                "user": {"uid": 65532, "gid": 65532},
                "args": ["/bin/demo", "serve"],
                "env": ["PORT=8080", "LOG_FORMAT=json"],
                "cwd": "/",
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}]
            },
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
        })
    }

    #[test]
    fn applies_the_recipe() {
        let mut config = umoci_config();
        let settings = RunSettings {
            uid: 65532,
            gid: 65532,
            env: BTreeMap::from([
                ("PORT".into(), "18080".into()),
                ("JWT_SECRET".into(), "s".into()),
            ]),
            args: Some(vec!["/bin/demo".into(), "migrate".into()]),
            mounts: vec![BindMount {
                source: "/tmp/ca.pem".into(),
                destination: "/etc/todo-ci/ca.pem".into(),
            }],
        };
        configure(&mut config, &settings).unwrap();
        assert_eq!(config["process"]["terminal"], false);
        assert!(config["process"].get("rlimits").is_none());
        assert_eq!(config["root"]["readonly"], true);
        assert_eq!(config["process"]["user"]["uid"], 65532);
        assert_eq!(config["process"]["noNewPrivileges"], true);
        assert_eq!(config["process"]["capabilities"]["bounding"], json!([]));
        assert_eq!(
            config["process"]["env"],
            json!(["JWT_SECRET=s", "LOG_FORMAT=json", "PORT=18080"])
        );
        assert_eq!(config["process"]["args"], json!(["/bin/demo", "migrate"]));
        let namespaces: Vec<&str> = config["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(!namespaces.contains(&"network"));
        assert!(namespaces.contains(&"pid"));
        let mounts = config["mounts"].as_array().unwrap();
        let tmp = mounts.iter().find(|m| m["destination"] == "/tmp").unwrap();
        assert_eq!(tmp["type"], "tmpfs");
        let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
        assert_eq!(sys["type"], "none");
        let ca = mounts
            .iter()
            .find(|m| m["destination"] == "/etc/todo-ci/ca.pem")
            .unwrap();
        assert_eq!(ca["source"], "/tmp/ca.pem");
        assert!(ca["options"].as_array().unwrap().contains(&json!("ro")));
    }

    #[test]
    fn missing_sections_are_errors() {
        let mut config = json!({"process": {}});
        assert!(configure(&mut config, &RunSettings::default()).is_err());
    }
}
