//! `cargo xtask teardown [--purge]`: uninstall the release and remove its namespace; with
//! `--purge` also its data (PVCs) and the minikube profile.

use crate::deploy::Environment;
use crate::facts::{ProfileState, probe_output, profile_state};
use crate::plan::{Action, Command, Phase, Plan, Step};
use crate::preflight::{Preflight, Tool};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeardownOptions {
    pub purge: bool,
    pub profile: String,
    /// `--profile` was given: target that profile's kube context explicitly instead of the
    /// current one.
    pub profile_explicit: bool,
    pub release: String,
    pub namespace: String,
}

impl Default for TeardownOptions {
    fn default() -> Self {
        TeardownOptions {
            purge: false,
            profile: "todo-chatbot".to_string(),
            profile_explicit: false,
            release: "todo".to_string(),
            namespace: "todo".to_string(),
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
    let context = if options.profile_explicit {
        Some(profile)
    } else {
        None
    };
    let target_context = context
        .map(str::to_string)
        .or_else(|| facts.current_context.clone());
    let targets_profile = target_context.as_deref() == Some(profile);
    // A stopped or missing profile has no API server to talk to; with --purge its data goes
    // with `minikube delete`.
    let cluster_down =
        targets_profile && matches!(facts.profile, ProfileState::Stopped | ProfileState::Absent);
    let mut problems = facts.preflight.problems();
    if !cluster_down && target_context.is_none() && facts.preflight.has(Tool::Kubectl) {
        problems.push(
            "the kubeconfig has no current context: pass --profile NAME or pick one with `kubectl config use-context NAME`"
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
    if cluster_down {
        steps.push(Step::note(
            Phase::Teardown,
            format!("minikube profile {profile} is not running: nothing to uninstall from it"),
        ));
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
        let kubectl = |args: &[&str]| {
            let mut command = Command::new("kubectl", Vec::<String>::new());
            if let Some(context) = context {
                command = command.args(["--context", context]);
            }
            command.args(args.iter().copied())
        };
        if options.purge {
            let selector = format!("app.kubernetes.io/instance={}", options.release);
            steps.push(Step::new(
                Phase::Teardown,
                Action::Run(kubectl(&[
                    "delete",
                    "pvc",
                    "--namespace",
                    namespace,
                    "-l",
                    &selector,
                    "--ignore-not-found",
                ])),
                format!("`kubectl get pvc -n {namespace}` shows what is left"),
            ));
        }
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
    }
    if options.purge {
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
    facts_lines.push(format!(
        "minikube profile {profile}: {}",
        match facts.profile {
            ProfileState::Running => "running",
            ProfileState::Stopped => "stopped",
            ProfileState::Absent => "does not exist",
            ProfileState::Unknown => "unknown (minikube not usable)",
        }
    ));
    Plan {
        title: format!(
            "cargo xtask teardown{}",
            if options.purge { " --purge" } else { "" }
        ),
        facts: facts_lines,
        steps,
    }
}

/// Required tools. minikube is only needed to delete the profile, and its absence is not an
/// error then: without minikube there is no profile.
fn tools() -> Vec<Tool> {
    vec![Tool::Helm, Tool::Kubectl]
}

/// Runs the read-only probes for the teardown plan.
pub fn gather_teardown_facts(options: &TeardownOptions, env: &Environment) -> TeardownFacts {
    let path = env.path.as_os_str();
    let optional = if options.purge || options.profile_explicit {
        vec![Tool::Minikube]
    } else {
        Vec::new()
    };
    let preflight = Preflight::run(&tools(), &optional, false, path);
    let profile = if options.purge || options.profile_explicit {
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
