//! Executes a plan: external commands through `tokio::process` (secrets read from the
//! environment only here), kube-rs actions, each step printed with its duration. Stops at the
//! first failure with what failed and what to run next (and the doctor's findings where the
//! step asks for them).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use crate::deploy::Environment;
use crate::facts::{normalize_reference, parse_image_list};
use crate::plan::{AccessSpec, Action, Arg, Command, Expect, Step};
use crate::preflight::find_on_path;

/// Where secret arguments come from when a step runs (the process environment, normally).
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Runs steps, remembering captured outputs between them.
pub struct Runner {
    pub env: Environment,
    captures: HashMap<&'static str, String>,
    secrets: SecretSource,
}

/// Where the app is, as lines to print. Pure.
pub fn access_lines(hosts: &[String], minikube_ip: Option<&str>, spec: &AccessSpec) -> Vec<String> {
    let mut lines = Vec::new();
    // The docker driver on macOS/Windows: the node's IP is inside a VM the host cannot reach;
    // `minikube tunnel` forwards the ingress to 127.0.0.1 (minikube's own advice).
    let tunnel_ip = spec.tunnel.then_some("127.0.0.1");
    if spec.tunnel && minikube_ip.is_some() {
        let profile = spec.context.as_deref().unwrap_or("todo-chatbot");
        lines.push(format!(
            "The minikube IP ({}) is not reachable from this machine with the docker driver: run `minikube -p {profile} tunnel` in another terminal (keep it open; it may ask for your password to bind ports 80 and 443), then use 127.0.0.1.",
            minikube_ip.unwrap_or_default()
        ));
    }
    let minikube_ip = tunnel_ip.or(minikube_ip);
    let named: Vec<&String> = hosts
        .iter()
        .filter(|h| !h.is_empty() && *h != "*")
        .collect();
    if !named.is_empty() {
        lines.push("The app is at:".to_string());
        for host in &named {
            lines.push(format!("  http://{host}/"));
        }
        if let Some(ip) = minikube_ip {
            lines.push("which needs this line in /etc/hosts:".to_string());
            for host in &named {
                lines.push(format!("  {ip} {host}"));
            }
            let entries: Vec<String> = named.iter().map(|h| format!("{ip} {h}")).collect();
            lines.push(format!(
                "  (for example: echo '{}' | sudo tee -a /etc/hosts)",
                entries.join("\\n")
            ));
        }
    } else if hosts.iter().any(|h| h.is_empty() || h == "*")
        && let Some(ip) = minikube_ip
    {
        lines.push(format!("The app is at: http://{ip}/"));
    }
    let context = spec
        .context
        .as_deref()
        .map(|c| format!(" --context {c}"))
        .unwrap_or_default();
    lines.push(format!(
        "Without ingress: kubectl{context} port-forward -n {} svc/{} {}:{}, then open http://localhost:{}/",
        spec.namespace, spec.web_service, spec.web_port, spec.web_port, spec.web_port
    ));
    lines
}

impl Runner {
    pub fn new(env: Environment) -> Runner {
        Runner::with_secrets(env, Arc::new(|name: &str| std::env::var(name).ok()))
    }

    pub fn with_secrets(env: Environment, secrets: SecretSource) -> Runner {
        Runner {
            env,
            captures: HashMap::new(),
            secrets,
        }
    }

    /// A captured output (e.g. `minikube ip`).
    pub fn captured(&self, name: &str) -> Option<&str> {
        self.captures.get(name).map(String::as_str)
    }

    /// Runs `steps` (numbered `first + i` of `total` in the output).
    pub async fn run(&mut self, steps: &[Step], first: usize, total: usize) -> anyhow::Result<()> {
        let mut index = 0;
        while index < steps.len() {
            let step = &steps[index];
            let alongside = steps.get(index + 1).filter(|next| next.alongside_previous);
            let number = first + index;
            match alongside {
                Some(next) => {
                    self.run_pair(step, next, number, total).await?;
                    index += 2;
                }
                None => {
                    self.run_timed(step, number, total).await?;
                    index += 1;
                }
            }
        }
        Ok(())
    }

    fn announce(step: &Step, number: usize, total: usize) {
        eprintln!(
            "==> [{number}/{total}] {}: {}",
            step.phase.label(),
            step.headline()
        );
    }

    async fn run_timed(&mut self, step: &Step, number: usize, total: usize) -> anyhow::Result<()> {
        Self::announce(step, number, total);
        let started = Instant::now();
        let result = self.execute(step).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                if !matches!(step.action, Action::Note(_)) {
                    eprintln!(
                        "<== [{number}/{total}] {} done in {seconds:.1}s",
                        step.phase.label()
                    );
                }
                Ok(())
            }
            Err(error) => Err(self.failure(step, number, total, seconds, error).await),
        }
    }

    /// A step and the one that runs alongside it (helm and the rollout watch): the first
    /// step's failure stops both at once; the watch's failure waits for the first step to end,
    /// so helm is never killed halfway through an upgrade.
    async fn run_pair(
        &mut self,
        step: &Step,
        next: &Step,
        number: usize,
        total: usize,
    ) -> anyhow::Result<()> {
        Self::announce(step, number, total);
        Self::announce(next, number + 1, total);
        let started = Instant::now();
        let mut other = Runner::with_secrets(self.env.clone(), self.secrets.clone());
        let (first_result, second_result) = {
            let first = self.execute(step);
            let second = other.execute(next);
            tokio::pin!(first, second);
            tokio::select! {
                result = &mut first => match result {
                    Ok(()) => (Ok(()), second.await),
                    // Dropping the watch cancels it.
                    Err(error) => (Err(error), Ok(())),
                },
                result = &mut second => (first.await, result),
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        if let Err(error) = first_result {
            return Err(self.failure(step, number, total, seconds, error).await);
        }
        eprintln!(
            "<== [{number}/{total}] {} done in {seconds:.1}s",
            step.phase.label()
        );
        if let Err(error) = second_result {
            return Err(self
                .failure(
                    next,
                    number + 1,
                    total,
                    started.elapsed().as_secs_f64(),
                    error,
                )
                .await);
        }
        eprintln!(
            "<== [{}/{total}] {} done in {:.1}s",
            number + 1,
            next.phase.label(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    async fn failure(
        &self,
        step: &Step,
        number: usize,
        total: usize,
        seconds: f64,
        error: anyhow::Error,
    ) -> anyhow::Error {
        eprintln!(
            "<== [{number}/{total}] {} FAILED after {seconds:.1}s",
            step.phase.label()
        );
        if step.diagnose_on_failure
            && let Some((context, namespace)) = diagnosis_target(step)
        {
            eprintln!("Running the doctor on namespace {namespace}...");
            match diagnose(
                self.env.kubeconfig.as_deref(),
                context.as_deref(),
                &namespace,
            )
            .await
            {
                Ok(report) => eprintln!("{report}"),
                Err(doctor_error) => eprintln!("(the doctor could not run: {doctor_error:#})"),
            }
        }
        let first_line = step.headline();
        let next = if step.on_failure.is_empty() {
            String::new()
        } else {
            format!("\nnext: {}", step.on_failure)
        };
        error.context(format!(
            "step {number}/{total} [{}] failed: {first_line}{next}",
            step.phase.label()
        ))
    }

    async fn execute(&mut self, step: &Step) -> anyhow::Result<()> {
        match &step.action {
            Action::Check { problems, .. } => {
                if problems.is_empty() {
                    Ok(())
                } else {
                    anyhow::bail!(
                        "preflight found {} problem(s); nothing was changed:\n  - {}",
                        problems.len(),
                        problems.join("\n  - ")
                    )
                }
            }
            // Already shown by the step's announcement.
            Action::Note(_) => Ok(()),
            Action::Run(command) => self.run_command(command).await,
            Action::Pipe(first, second) => self.run_pipe(first, second).await,
            Action::WaitRollout(spec) => {
                let client = self.client(spec.context.as_deref()).await?;
                cluster_client::watch_rollout(client, spec, |line| eprintln!("    {line}")).await
            }
            Action::PrintAccess(spec) => {
                let minikube_ip = spec
                    .minikube_ip_capture
                    .and_then(|name| self.captures.get(name))
                    .cloned();
                let hosts = self.ingress_hosts(spec).await.unwrap_or_else(|error| {
                    eprintln!("    (could not read the Ingresses: {error:#})");
                    Vec::new()
                });
                for line in access_lines(&hosts, minikube_ip.as_deref(), spec) {
                    println!("{line}");
                }
                Ok(())
            }
        }
    }

    fn process(&self, command: &Command) -> anyhow::Result<tokio::process::Command> {
        let program = find_on_path(&command.program, &self.env.path)
            .with_context(|| format!("{} not found on PATH", command.program))?;
        let mut process = tokio::process::Command::new(program);
        for arg in &command.args {
            match arg {
                Arg::Plain(text) => process.arg(text),
                Arg::Secret { prefix, env } => {
                    let value =
                        (self.secrets)(env).with_context(|| format!("${env} is not set"))?;
                    process.arg(format!("{prefix}{value}"))
                }
            };
        }
        process
            .current_dir(&self.env.root)
            .env("PATH", &self.env.path)
            .stdin(Stdio::null());
        if let Some(kubeconfig) = &self.env.kubeconfig {
            process.env("KUBECONFIG", kubeconfig);
        }
        Ok(process)
    }

    async fn run_command(&mut self, command: &Command) -> anyhow::Result<()> {
        let mut process = self.process(command)?;
        match &command.expect {
            Expect::Success => {
                let status = process
                    .status()
                    .await
                    .with_context(|| format!("starting {}", command.program))?;
                anyhow::ensure!(status.success(), "`{command}` exited with {status}");
            }
            Expect::ListsImages(images) => {
                let output = process.stderr(Stdio::inherit()).output().await?;
                anyhow::ensure!(
                    output.status.success(),
                    "`{command}` exited with {}",
                    output.status
                );
                let listed = parse_image_list(&String::from_utf8_lossy(&output.stdout));
                let missing: Vec<&String> = images
                    .iter()
                    .filter(|image| !listed.contains(&normalize_reference(image)))
                    .collect();
                anyhow::ensure!(
                    missing.is_empty(),
                    "not in the cluster after loading: {missing:?}"
                );
                eprintln!("    all {} images present", images.len());
            }
            Expect::Capture(name) => {
                let output = process.stderr(Stdio::inherit()).output().await?;
                anyhow::ensure!(
                    output.status.success(),
                    "`{command}` exited with {}",
                    output.status
                );
                self.captures.insert(
                    name,
                    String::from_utf8_lossy(&output.stdout).trim().to_string(),
                );
            }
        }
        Ok(())
    }

    async fn run_pipe(&mut self, first: &Command, second: &Command) -> anyhow::Result<()> {
        let mut producer = self.process(first)?.stdout(Stdio::piped()).spawn()?;
        let stdout = producer.stdout.take().context("no stdout to pipe")?;
        let stdin: Stdio = stdout.try_into().context("piping between the commands")?;
        let consumer = self.process(second)?.stdin(stdin).status();
        let (produced, consumed) = tokio::join!(producer.wait(), consumer);
        let (produced, consumed) = (produced?, consumed?);
        // The error names the redacted command only: the secret never reaches a message.
        anyhow::ensure!(produced.success(), "`{first}` exited with {produced}");
        anyhow::ensure!(consumed.success(), "`{second}` exited with {consumed}");
        Ok(())
    }
}

fn diagnosis_target(step: &Step) -> Option<(Option<String>, String)> {
    match &step.action {
        Action::WaitRollout(spec) => Some((spec.context.clone(), spec.namespace.clone())),
        Action::Run(command) if command.program == "helm" => {
            let args: Vec<&str> = command
                .args
                .iter()
                .filter_map(|a| match a {
                    Arg::Plain(text) => Some(text.as_str()),
                    Arg::Secret { .. } => None,
                })
                .collect();
            let after = |flag: &str| {
                args.iter()
                    .position(|a| *a == flag)
                    .and_then(|i| args.get(i + 1))
                    .map(|s| s.to_string())
            };
            Some((after("--kube-context"), after("--namespace")?))
        }
        _ => None,
    }
}

/// The doctor's report for a namespace (what `deploy` prints when a rollout fails).
pub async fn diagnose(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
    namespace: &str,
) -> anyhow::Result<String> {
    let client = cluster_client::kube_client_from(kubeconfig, context).await?;
    let snapshot = cluster_client::fetch_snapshot(
        &client,
        namespace,
        &cluster_client::FetchOptions::default(),
    )
    .await?;
    Ok(cluster_doctor::render_findings(&cluster_doctor::analyze(
        &snapshot,
    )))
}

impl Runner {
    async fn client(&self, context: Option<&str>) -> anyhow::Result<cluster_client::Client> {
        cluster_client::kube_client_from(self.env.kubeconfig.as_deref(), context).await
    }

    async fn ingress_hosts(&self, spec: &AccessSpec) -> anyhow::Result<Vec<String>> {
        let client = self.client(spec.context.as_deref()).await?;
        cluster_client::fetch::ingress_hosts(client, &spec.namespace).await
    }
}
