//! A plan: the ordered steps a command will take, as data. `--dry-run` prints it; the runner
//! executes it. Secret values never live in a plan: a secret argument names the environment
//! variable it is read from when the step runs, and prints as `<redacted>`.

use std::fmt;

/// Which part of the job a step belongs to (the deploy issue's numbered steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Preflight,
    Cluster,
    BuildImages,
    LoadImages,
    Secrets,
    Release,
    Wait,
    Access,
    Smoke,
    /// `--with-kagent`: kagent's charts next to the release.
    Kagent,
    Teardown,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Cluster => "cluster",
            Phase::BuildImages => "images",
            Phase::LoadImages => "load",
            Phase::Secrets => "secrets",
            Phase::Release => "helm",
            Phase::Wait => "wait",
            Phase::Access => "access",
            Phase::Smoke => "smoke",
            Phase::Kagent => "kagent",
            Phase::Teardown => "teardown",
        }
    }
}

/// One argument of an external command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Plain(String),
    /// `prefix` + the value of environment variable `env`, read only when the step runs.
    Secret {
        prefix: String,
        env: String,
    },
}

impl Arg {
    fn shown(&self) -> String {
        match self {
            Arg::Plain(text) => shell_quote(text),
            Arg::Secret { prefix, .. } => format!("{}<redacted>", shell_quote(prefix)),
        }
    }
}

/// Quotes for a POSIX shell only when needed, so printed commands can be pasted. Placeholders
/// such as `<tag>` stay bare so they read as placeholders.
pub fn shell_quote(text: &str) -> String {
    let mut rest = text.to_string();
    while let (Some(open), Some(close)) = (rest.find('<'), rest.find('>')) {
        let inner = rest.get(open + 1..close).unwrap_or("<");
        if close < open
            || inner.is_empty()
            || !inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            break;
        }
        rest.replace_range(open..=close, "x");
    }
    let plain = !text.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%#".contains(c));
    if plain && !text.starts_with('#') {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What must hold for a command to count as successful, besides exit status 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Success,
    /// Standard output lists every one of these image references (normalized).
    ListsImages(Vec<String>),
    /// Keep standard output (trimmed) under this name for a later step.
    Capture(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub program: String,
    pub args: Vec<Arg>,
    pub expect: Expect,
}

impl Command {
    pub fn new<I, S>(program: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            program: program.to_string(),
            args: args.into_iter().map(|a| Arg::Plain(a.into())).collect(),
            expect: Expect::Success,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(Arg::Plain(arg.into()));
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args
            .extend(args.into_iter().map(|a| Arg::Plain(a.into())));
        self
    }

    pub fn secret_arg(mut self, prefix: &str, env: &str) -> Command {
        self.args.push(Arg::Secret {
            prefix: prefix.to_string(),
            env: env.to_string(),
        });
        self
    }

    pub fn expect(mut self, expect: Expect) -> Command {
        self.expect = expect;
        self
    }

    /// Environment variables this command reads secrets from.
    pub fn secret_envs(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter_map(|a| match a {
                Arg::Secret { env, .. } => Some(env.as_str()),
                Arg::Plain(_) => None,
            })
            .collect()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program)?;
        for arg in &self.args {
            write!(f, " {}", arg.shown())?;
        }
        Ok(())
    }
}

/// Wait with kube-rs until these workloads are rolled out (watched by cluster-client).
pub use cluster_client::WaitSpec;

/// Print where the app is: ingress URLs (+ the /etc/hosts line on minikube) and a
/// port-forward command that works without ingress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessSpec {
    pub context: Option<String>,
    pub namespace: String,
    pub web_service: String,
    pub web_port: u16,
    /// Name of the captured `minikube ip` output, on minikube.
    pub minikube_ip_capture: Option<&'static str>,
    /// The minikube IP is not reachable from this machine (docker driver on macOS/Windows):
    /// print `minikube tunnel` and 127.0.0.1 instead of the IP.
    pub tunnel: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Preflight: the plan may only start when `problems` is empty.
    Check {
        checked: String,
        problems: Vec<String>,
    },
    /// Something deliberately not done, and why.
    Note(String),
    Run(Command),
    /// `first | second`.
    Pipe(Command, Command),
    WaitRollout(WaitSpec),
    PrintAccess(AccessSpec),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub phase: Phase,
    pub action: Action,
    /// What to run next when this step fails.
    pub on_failure: String,
    /// Starts together with the previous step (the rollout watch streams progress while helm
    /// waits) and must finish too.
    pub alongside_previous: bool,
    /// On failure, run the doctor on the namespace and print its findings.
    pub diagnose_on_failure: bool,
}

impl Step {
    pub fn new(phase: Phase, action: Action, on_failure: impl Into<String>) -> Step {
        Step {
            phase,
            action,
            on_failure: on_failure.into(),
            alongside_previous: false,
            diagnose_on_failure: false,
        }
    }

    pub fn note(phase: Phase, text: impl Into<String>) -> Step {
        Step::new(phase, Action::Note(text.into()), String::new())
    }

    /// The first line of the description, worded for a real run (a check is not "would fail").
    pub fn headline(&self) -> String {
        match &self.action {
            Action::Check { checked, .. } => format!("check {checked}"),
            _ => self
                .describe()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// The step in one line: the exact command (`$ ...`) or API call.
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Check { checked, problems } if problems.is_empty() => {
                format!("check {checked}: ok")
            }
            Action::Check { checked, problems } => {
                format!(
                    "check {checked}: WOULD FAIL:\n{}",
                    problems
                        .iter()
                        .map(|p| format!("  - {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }
            Action::Note(text) => format!("skip: {text}"),
            Action::Run(command) => {
                let mut line = format!("$ {command}");
                match &command.expect {
                    Expect::Success => {}
                    Expect::ListsImages(images) => {
                        line.push_str(&format!("  # must list {}", images.join(", ")))
                    }
                    Expect::Capture(name) => line.push_str(&format!("  # output is the {name}")),
                }
                for env in command.secret_envs() {
                    line.push_str(&format!("  # value read from ${env}, never printed"));
                }
                line
            }
            Action::Pipe(first, second) => {
                let mut line = format!("$ {first} | {second}");
                for env in first.secret_envs() {
                    line.push_str(&format!("  # value read from ${env}, never printed"));
                }
                line
            }
            Action::WaitRollout(spec) => {
                let deployments: Vec<String> = spec
                    .deployments
                    .iter()
                    .map(|d| format!("{}/{d}", spec.namespace))
                    .collect();
                let stateful_sets: Vec<String> = spec
                    .stateful_sets
                    .iter()
                    .map(|s| format!("{}/{s}", spec.namespace))
                    .collect();
                let stateful_sets = if stateful_sets.is_empty() {
                    String::new()
                } else {
                    format!(
                        " and StatefulSet {} (if the release has it)",
                        stateful_sets.join(", ")
                    )
                };
                format!(
                    "kube-rs: watch Deployment {}{stateful_sets} until rolled out, streaming progress; timeout {}",
                    deployments.join(", "),
                    format_duration(spec.timeout)
                )
            }
            Action::PrintAccess(spec) => {
                let hosts = match spec.minikube_ip_capture {
                    Some(_) if spec.tunnel => "http://<host> for each Ingress host (todo.local with the dev values), \
                                               `minikube tunnel` to run (the minikube IP is not reachable with the docker driver here) \
                                               and the /etc/hosts line `127.0.0.1 <host>`"
                        .to_string(),
                    Some(_) => "http://<host> for each Ingress host (todo.local with the dev values) and the /etc/hosts \
                                line `<minikube ip> <host>`"
                        .to_string(),
                    None => "http://<host> for each Ingress host".to_string(),
                };
                format!(
                    "kube-rs: list Ingresses in {}; print {hosts}, or `kubectl port-forward -n {} svc/{} {}:{}`",
                    spec.namespace, spec.namespace, spec.web_service, spec.web_port, spec.web_port
                )
            }
        }
    }
}

pub use cluster_client::format_duration;

/// An ordered list of steps, plus the facts it was built from (printed by `--dry-run`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub title: String,
    pub facts: Vec<String>,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Each step's one-line description, in order (what the tests assert).
    pub fn descriptions(&self) -> Vec<String> {
        self.steps.iter().map(Step::describe).collect()
    }

    /// Preflight problems; the plan must not start while there are any.
    pub fn problems(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|step| match &step.action {
                Action::Check { problems, .. } => problems.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The dry-run text.
    pub fn render(&self) -> String {
        let mut out = format!("{} (dry run: nothing is changed)\n", self.title);
        if !self.facts.is_empty() {
            out.push_str("\nFound (read-only probes):\n");
            for fact in &self.facts {
                out.push_str(&format!("  {fact}\n"));
            }
        }
        out.push_str("\nPlan:\n");
        let width = self.steps.len().to_string().len();
        for (index, step) in self.steps.iter().enumerate() {
            let alongside = if step.alongside_previous {
                " (runs alongside the previous step)"
            } else {
                ""
            };
            let mut lines = step
                .describe()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter();
            let first = lines.next().unwrap_or_default();
            out.push_str(&format!(
                "{:>width$}. [{}] {first}{alongside}\n",
                index + 1,
                step.phase.label()
            ));
            for more in lines {
                out.push_str(&format!("{:>width$}  {more}\n", ""));
            }
        }
        let problems = self.problems();
        if problems.is_empty() {
            out.push_str("\nPreflight passed: this plan can run.\n");
        } else {
            out.push_str(&format!(
                "\nA real run would stop at preflight ({} problem(s) above) before changing anything.\n",
                problems.len()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(shell_quote("--set"), "--set");
        assert_eq!(shell_quote("api.image.tag=abc"), "api.image.tag=abc");
        assert_eq!(shell_quote("nix-command flakes"), "'nix-command flakes'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("<tag>"), "<tag>");
        assert_eq!(shell_quote("a>b"), "'a>b'");
    }

    #[test]
    fn secrets_are_redacted_in_descriptions() {
        let command = Command::new("kubectl", ["create", "secret", "generic", "s"])
            .secret_arg("--from-literal=api-key=", "LLM_API_KEY");
        assert_eq!(
            command.to_string(),
            "kubectl create secret generic s --from-literal=api-key=<redacted>"
        );
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
