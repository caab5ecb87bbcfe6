//! `cargo xtask teardown [--purge]`: uninstall the release and keep its data; with `--purge`
//! also delete the data (the database's PVC and Secret), the namespace and the minikube
//! profile.
//!
//! Plain teardown is `helm uninstall` and nothing else. That leaves exactly what a later
//! `cargo xtask deploy` needs to find the same data: the StatefulSet's PVC (helm never owns
//! volumeClaimTemplates' claims) and the chart's Secret (annotated
//! `helm.sh/resource-policy: keep`, so the database password still matches the volume). The
//! namespace is kept too, because deleting it would delete both. `--purge` is the only path
//! that deletes them.
//!
//! Like deploy, teardown targets the minikube profile's kube context (`todo-chatbot`) unless
//! told `--cluster current`, so a context switched for other work is never torn down by
//! accident.

use crate::deploy::{ClusterTarget, Environment};
use crate::facts::{ProfileState, probe_output, profile_state};
use crate::plan::{Action, Command, Phase, Plan, Step};
use crate::preflight::{Preflight, Tool};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeardownOptions {
    pub purge: bool,
    /// Minikube: the profile's kube context (deploy's default). Current: whatever the current
    /// kubeconfig context is; `--purge` then deletes no minikube profile.
    pub cluster: ClusterTarget,
    pub profile: String,
    pub release: String,
    pub namespace: String,
    /// `--with-kagent`: also remove kagent's releases (see [`crate::kagent`]).
    pub kagent: bool,
}

impl Default for TeardownOptions {
    fn default() -> Self {
        TeardownOptions {
            purge: false,
            cluster: ClusterTarget::Minikube,
            profile: "todo-chatbot".to_string(),
            release: "todo".to_string(),
            namespace: "todo".to_string(),
            kagent: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeardownFacts {
    pub preflight: Preflight,
    pub profile: ProfileState,
    pub current_context: Option<String>,
}

/// The teardown plan. Pure.
pub fn teardown_plan(options: &TeardownOptions, facts: &TeardownFacts) -> Plan {
    let profile = options.profile.as_str();
    let namespace = options.namespace.as_str();
    let minikube = options.cluster == ClusterTarget::Minikube;
    // With minikube every kube call names the profile's context; with --cluster current none
    // does, so the tools use the current one.
    let context = minikube.then_some(profile);
    let target_context = context
        .map(str::to_string)
        .or_else(|| facts.current_context.clone());
    let mut problems = facts.preflight.problems();
    if !minikube && target_context.is_none() && facts.preflight.has(Tool::Kubectl) {
        problems.push(
            "--cluster current: the kubeconfig has no current context; pick one with `kubectl config use-context NAME` (or tear down the minikube profile: drop --cluster current)"
                .to_string(),
        );
    }
    let mut steps = vec![Step::new(
        Phase::Preflight,
        Action::Check {
            checked: tools()
                .iter()
                .map(|t| format!("{} >= {}", t.program(), t.minimum()))
                .collect::<Vec<_>>()
                .join(", "),
            problems,
        },
        "fix the problems listed (or enter `nix develop`), then re-run `cargo xtask teardown`",
    )];
    steps.push(Step::note(
        Phase::Teardown,
        format!(
            "targets kubeconfig context {}",
            target_context
                .as_deref()
                .unwrap_or("(none: `kubectl config current-context` gave no answer)")
        ),
    ));
    // Why the profile's cluster cannot be talked to, if it cannot.
    let unreachable = if !minikube {
        None
    } else {
        match facts.profile {
            ProfileState::Running => None,
            ProfileState::Stopped if options.purge => Some(format!(
                "minikube profile {profile} is not running: nothing to uninstall from it (`minikube delete` removes its data)"
            )),
            ProfileState::Stopped => Some(format!(
                "minikube profile {profile} is not running: nothing is changed; `minikube start -p {profile}` and re-run to uninstall, or `--purge` to delete the profile and its data"
            )),
            ProfileState::Absent => Some(format!(
                "minikube profile {profile} does not exist: nothing to uninstall (for another cluster: --cluster current)"
            )),
            ProfileState::Unknown if !facts.preflight.has(Tool::Minikube) => Some(format!(
                "minikube not found: there is no profile {profile} to tear down here (for another cluster: --cluster current)"
            )),
            // minikube is there but its status said nothing clear: try the context anyway.
            ProfileState::Unknown => None,
        }
    };
    let kubectl = |args: &[&str]| {
        let mut command = Command::new("kubectl", Vec::<String>::new());
        if let Some(context) = context {
            command = command.args(["--context", context]);
        }
        command.args(args.iter().copied())
    };
    let selector = format!("app.kubernetes.io/instance={}", options.release);
    if let Some(why) = unreachable {
        steps.push(Step::note(Phase::Teardown, why));
    } else {
        let mut uninstall = Command::new("helm", Vec::<String>::new());
        if let Some(context) = context {
            uninstall = uninstall.args(["--kube-context", context]);
        }
        steps.push(Step::new(
            Phase::Teardown,
            Action::Run(uninstall.args(["uninstall", &options.release, "--namespace", namespace, "--ignore-not-found", "--wait"])),
            format!("`helm list -n {namespace}` shows the release; `cargo xtask doctor --namespace {namespace}`"),
        ));
        if options.purge {
            steps.push(Step::new(
                Phase::Teardown,
                Action::Run(kubectl(&[
                    "delete",
                    "pvc,secret",
                    "--namespace",
                    namespace,
                    "-l",
                    &selector,
                    "--ignore-not-found",
                    "--wait",
                ])),
                format!("`kubectl get pvc,secret -n {namespace}` shows what is left"),
            ));
            steps.push(Step::new(
                Phase::Teardown,
                Action::Run(kubectl(&[
                    "delete",
                    "namespace",
                    namespace,
                    "--ignore-not-found",
                    "--wait",
                ])),
                format!("a finalizer may hold it: `kubectl get namespace {namespace} -o yaml`"),
            ));
        } else {
            steps.push(Step::note(
                Phase::Teardown,
                format!(
                    "keeps namespace {namespace} with the database's PVC and Secret (the next deploy finds the same data and password); `cargo xtask teardown --purge` deletes them"
                ),
            ));
            // Read-only: shows the user exactly what was kept.
            steps.push(Step::new(
                Phase::Teardown,
                Action::Run(kubectl(&[
                    "get",
                    "pvc,secret",
                    "--namespace",
                    namespace,
                    "-l",
                    &selector,
                ])),
                format!("`kubectl get pvc,secret -n {namespace}`"),
            ));
        }
        if options.kagent {
            steps.extend(crate::kagent::teardown_steps(context, options.purge));
        }
    }
    if options.purge && minikube {
        match facts.profile {
            ProfileState::Absent => {
                steps.push(Step::note(Phase::Teardown, format!("minikube profile {profile} does not exist: nothing to delete")))
            }
            ProfileState::Unknown if !facts.preflight.has(Tool::Minikube) => steps.push(Step::note(
                Phase::Teardown,
                format!("minikube not found: cannot delete profile {profile} (none to delete if minikube was never installed)"),
            )),
            _ => steps.push(Step::new(
                Phase::Teardown,
                Action::Run(Command::new("minikube", ["delete", "-p", profile])),
                format!("`minikube profile list`; retry `minikube delete -p {profile}`"),
            )),
        }
    }
    let mut facts_lines = facts.preflight.summary_lines();
    facts_lines.push(format!(
        "kubeconfig current context: {}",
        facts.current_context.as_deref().unwrap_or("unknown")
    ));
    if minikube {
        facts_lines.push(format!(
            "minikube profile {profile}: {}",
            match facts.profile {
                ProfileState::Running => "running",
                ProfileState::Stopped => "stopped",
                ProfileState::Absent => "does not exist",
                ProfileState::Unknown => "unknown (minikube not usable)",
            }
        ));
    }
    Plan {
        title: format!(
            "cargo xtask teardown{}{}{}",
            if options.purge { " --purge" } else { "" },
            if options.kagent { " --with-kagent" } else { "" },
            if minikube { "" } else { " --cluster current" }
        ),
        facts: facts_lines,
        steps,
    }
}

/// Required tools. minikube is only asked about its profile, and its absence is not an error:
/// without minikube there is no profile to tear down.
fn tools() -> Vec<Tool> {
    vec![Tool::Helm, Tool::Kubectl]
}

/// Runs the read-only probes for the teardown plan.
pub fn gather_teardown_facts(options: &TeardownOptions, env: &Environment) -> TeardownFacts {
    let path = env.path.as_os_str();
    let minikube = options.cluster == ClusterTarget::Minikube;
    let optional = if minikube {
        vec![Tool::Minikube]
    } else {
        Vec::new()
    };
    let preflight = Preflight::run(&tools(), &optional, false, path);
    let profile = if minikube {
        profile_state(&options.profile, &preflight, path)
    } else {
        ProfileState::Unknown
    };
    let current_context = if preflight.has(Tool::Kubectl) {
        probe_output("kubectl", &["config", "current-context"], path)
            .filter(|(code, _)| *code == Some(0))
            .map(|(_, out)| out.trim().to_string())
            .filter(|c| !c.is_empty())
    } else {
        None
    };
    TeardownFacts {
        preflight,
        profile,
        current_context,
    }
}
