//! kagent (<https://kagent.dev>), the Kubernetes-native agent framework, installed next to the
//! release with `cargo xtask deploy --with-kagent` and removed with `teardown --with-kagent`.
//!
//! It comes from its published Helm charts, `kagent-crds` then `kagent` (the OCI locations and
//! the `providers.*` values are those of kagent's installation guide,
//! <https://kagent.dev/docs/kagent/0.x/introduction/installation>, and of the chart's
//! `helm/kagent/values.yaml` and `templates/modelconfig.yaml` in github.com/kagent-dev/kagent),
//! into its own namespace. Its default ModelConfig reads the LLM key from the same Secret the
//! release uses (`todo-llm-api-key`, key `api-key`, made from `LLM_API_KEY`), created in
//! kagent's namespace because a Secret is only readable from its own namespace.
//!
//! The version is pinned to the 0.x line: kagent 1.0 needs Kubernetes 1.37 and Agent
//! Substrate, which a default minikube does not have.

use crate::deploy::{LLM_API_KEY_ENV, LLM_SECRET_KEY, LLM_SECRET_NAME, helm, kubectl};
use crate::plan::{Action, Phase, Step, format_duration};

pub const NAMESPACE: &str = "kagent";
pub const CRDS_RELEASE: &str = "kagent-crds";
pub const RELEASE: &str = "kagent";
pub const CRDS_CHART: &str = "oci://ghcr.io/kagent-dev/kagent/helm/kagent-crds";
pub const CHART: &str = "oci://ghcr.io/kagent-dev/kagent/helm/kagent";
/// The latest 0.x release named by kagent's 0.x installation guide.
pub const VERSION: &str = "0.10.1";

/// Which model kagent's default ModelConfig uses: the chat's `LLM_MODEL` and `LLM_BASE_URL`
/// when set (any OpenAI-compatible endpoint), else the chart's OpenAI default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KagentOptions {
    pub model: Option<String>,
    pub base_url: Option<String>,
}

impl KagentOptions {
    /// From `LLM_MODEL` and `LLM_BASE_URL` through `var` (the environment in xtask).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> KagentOptions {
        let set = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        KagentOptions {
            model: set("LLM_MODEL"),
            base_url: set("LLM_BASE_URL"),
        }
    }
}

/// Why `--with-kagent` cannot run, if it cannot: kagent's agents cannot answer without a key.
pub fn preflight_problems(llm_api_key_set: bool) -> Vec<String> {
    if llm_api_key_set {
        Vec::new()
    } else {
        vec![format!(
            "--with-kagent: kagent's agents call the LLM with the key from {LLM_API_KEY_ENV}; set it \
             (`export {LLM_API_KEY_ENV}=...`), or drop --with-kagent"
        )]
    }
}

/// The install steps: namespace, the key Secret, the CRDs chart, the kagent chart.
pub fn install_steps(
    context: Option<&str>,
    options: &KagentOptions,
    timeout: std::time::Duration,
) -> Vec<Step> {
    let apply = kubectl(context).args(["apply", "-f", "-"]);
    let timeout = format_duration(timeout);
    let mut steps = vec![
        Step::new(
            Phase::Kagent,
            Action::Pipe(
                kubectl(context).args([
                    "create",
                    "namespace",
                    NAMESPACE,
                    "--dry-run=client",
                    "-o",
                    "yaml",
                ]),
                apply.clone(),
            ),
            "check the cluster is reachable: `kubectl cluster-info`",
        ),
        Step::new(
            Phase::Kagent,
            Action::Pipe(
                kubectl(context)
                    .args([
                        "create",
                        "secret",
                        "generic",
                        LLM_SECRET_NAME,
                        "--namespace",
                        NAMESPACE,
                    ])
                    .secret_arg(
                        &format!("--from-literal={LLM_SECRET_KEY}="),
                        LLM_API_KEY_ENV,
                    )
                    .args(["--dry-run=client", "-o", "yaml"]),
                apply,
            ),
            format!(
                "check you may create Secrets there: `kubectl auth can-i create secrets -n {NAMESPACE}`"
            ),
        ),
    ];
    let chart = |release: &str, chart: &str| {
        helm(context).args([
            "upgrade",
            "--install",
            release,
            chart,
            "--version",
            VERSION,
            "--namespace",
            NAMESPACE,
            "--wait",
            "--timeout",
            &timeout,
        ])
    };
    steps.push(Step::new(
        Phase::Kagent,
        Action::Run(chart(CRDS_RELEASE, CRDS_CHART)),
        "check ghcr.io is reachable (`helm show chart oci://ghcr.io/kagent-dev/kagent/helm/kagent-crds`)",
    ));
    let mut install = chart(RELEASE, CHART).args([
        "--set",
        "providers.default=openAI",
        "--set",
        &format!("providers.openAI.apiKeySecretRef={LLM_SECRET_NAME}"),
        "--set",
        &format!("providers.openAI.apiKeySecretKey={LLM_SECRET_KEY}"),
    ]);
    if let Some(model) = &options.model {
        install = install.args(["--set-string", &format!("providers.openAI.model={model}")]);
    }
    if let Some(base_url) = &options.base_url {
        install = install.args([
            "--set-string",
            &format!("providers.openAI.config.baseUrl={base_url}"),
        ]);
    }
    steps.push(Step::new(
        Phase::Kagent,
        Action::Run(install),
        format!("`kubectl get pods -n {NAMESPACE}` and `kubectl describe pod -n {NAMESPACE} <pod>` show what is not ready"),
    ));
    steps
}

/// The teardown steps: both releases; with `purge` also the namespace (and the key Secret in
/// it). Removing the CRDs chart deletes kagent's agents and ModelConfigs everywhere.
pub fn teardown_steps(context: Option<&str>, purge: bool) -> Vec<Step> {
    let mut steps: Vec<Step> = [RELEASE, CRDS_RELEASE]
        .iter()
        .map(|release| {
            Step::new(
                Phase::Teardown,
                Action::Run(helm(context).args([
                    "uninstall",
                    release,
                    "--namespace",
                    NAMESPACE,
                    "--ignore-not-found",
                    "--wait",
                ])),
                format!("`helm list -n {NAMESPACE}` shows what is left"),
            )
        })
        .collect();
    if purge {
        steps.push(Step::new(
            Phase::Teardown,
            Action::Run(kubectl(context).args([
                "delete",
                "namespace",
                NAMESPACE,
                "--ignore-not-found",
                "--wait",
            ])),
            format!("a finalizer may hold it: `kubectl get namespace {NAMESPACE} -o yaml`"),
        ));
    } else {
        steps.push(Step::note(
            Phase::Teardown,
            format!(
                "keeps namespace {NAMESPACE} with its copy of the LLM key Secret {LLM_SECRET_NAME}; `--purge` deletes it"
            ),
        ));
    }
    steps
}

/// The deploy plan's fact line.
pub fn fact_line(options: &KagentOptions) -> String {
    format!(
        "kagent: charts {VERSION} into namespace {NAMESPACE}, model {} at {}",
        options
            .model
            .as_deref()
            .unwrap_or("(the chart's OpenAI default)"),
        options.base_url.as_deref().unwrap_or("OpenAI")
    )
}
