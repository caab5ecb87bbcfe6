//! One `ask`: the model loop (model -> tools -> model, at most `max_rounds` rounds) or, without a
//! model, the fixed forms; both run the same typed tools and the same confirmation.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::fixed::{self, Parsed};
use crate::llm::{HOW_TO_CONFIGURE, Llm, LlmConfig};
use crate::release::Release;
use crate::tools::{self, Change, Cluster, Prepared};

/// How `ask` talks to the person (a terminal in the CLI, a script in the tests).
pub trait Ui {
    /// A line for the user.
    fn say(&mut self, line: &str);
    /// Whether to run this change (already shown with its kubectl command). A `false` must
    /// have said why when it was not the user's answer (e.g. no terminal to ask on).
    fn confirm(&mut self, change: &Change) -> bool;
}

#[derive(Clone, Debug)]
pub struct AskOptions {
    pub release: Release,
    /// The kubeconfig context named on the command line (shown in the kubectl commands).
    pub context: Option<String>,
    /// `None`: no model configured; only the fixed forms are understood.
    pub llm: Option<LlmConfig>,
    /// Model round trips before giving up.
    pub max_rounds: usize,
    /// Each model request's timeout.
    pub timeout: Duration,
}

impl Default for AskOptions {
    fn default() -> Self {
        AskOptions {
            release: Release::default(),
            context: None,
            llm: None,
            max_rounds: 8,
            timeout: Duration::from_secs(120),
        }
    }
}

/// How an ask ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The final answer (the model's, or the tool's output for a fixed form).
    pub answer: String,
    /// The kubectl commands of the changes that ran.
    pub changed: Vec<String>,
    /// The kubectl commands of the changes shown and not run.
    pub not_run: Vec<String>,
    /// Model round trips used (0 for a fixed form).
    pub rounds: usize,
}

fn system_prompt(release: &Release, context: Option<&str>) -> String {
    let name = |short: &str| release.resolve(short).map(|t| t.name).unwrap_or_default();
    format!(
        "You operate the todo-chatbot Helm release {release_name} in Kubernetes namespace {namespace}{context} for its operator. \
         Its workloads: Deployments {api} (the REST API and chat agent, also called api or backend), {web} (the web UI, web or frontend) \
         and {mcp} (the MCP server, mcp), and the StatefulSet {postgres} (PostgreSQL, postgres or db). You act only through the tools, only in this namespace.\n\
         Rules:\n\
         - Reads run at once. For a change (scale, scale_hpa, rollout_restart) call the tool directly: it shows the user the exact kubectl command \
           and asks them to confirm; its result says whether it ran. Never claim a change ran unless its result says so; if it was not run, say so.\n\
         - To find why something fails, use doctor, then logs (previous=true for a crashed container) and events; answer with the likely cause \
           and the fix, as the kubectl command or the ask request that does it.\n\
         - There is no delete tool. Deleting PersistentVolumeClaims or Secrets (the database and its password) is refused: say so and point to \
           `cargo xtask teardown --purge`.\n\
         - If a tool returns an error, tell the user what failed and what to do next.\n\
         - Be brief.",
        release_name = release.name,
        namespace = release.namespace,
        context = context
            .map(|c| format!(" (kubeconfig context {c})"))
            .unwrap_or_default(),
        api = name("api"),
        web = name("web"),
        mcp = name("mcp"),
        postgres = release.postgres(),
    )
}

/// The result of one tool call, as text for the model.
async fn run_tool(
    cluster: &Cluster,
    ui: &mut dyn Ui,
    outcome: &mut Outcome,
    name: &str,
    args: &Value,
) -> String {
    let prepared = match tools::prepare(&cluster.release, name, args) {
        Ok(prepared) => prepared,
        Err(error) => {
            ui.say(&format!("{name}: {error}"));
            return format!("error: {error}");
        }
    };
    match prepared {
        Prepared::Read(read) => {
            ui.say(&format!("reading: {}", tools::read_kubectl(cluster, &read)));
            match tools::read(cluster, &read).await {
                Ok(text) => text,
                Err(error) => {
                    ui.say(&format!("{name} failed: {error}"));
                    format!("error: {error}")
                }
            }
        }
        Prepared::Change(action) => {
            let change = match tools::preview(cluster, action).await {
                Ok(change) => change,
                Err(error) => {
                    ui.say(&format!("{name} failed: {error}"));
                    return format!("error: {error}");
                }
            };
            ui.say(&format!("change: {}", change.summary));
            ui.say(&format!("  $ {}", change.kubectl));
            if let Some(warning) = &change.warning {
                ui.say(&format!("  note: {warning}"));
            }
            if !ui.confirm(&change) {
                ui.say("not run.");
                outcome.not_run.push(change.kubectl.clone());
                return json!({"not_run": "the user did not confirm this change; nothing was changed", "kubectl": change.kubectl})
                    .to_string();
            }
            match tools::apply(cluster, &change).await {
                Ok(done) => {
                    ui.say(&format!("done: {done}"));
                    outcome.changed.push(change.kubectl.clone());
                    json!({"done": done, "kubectl": change.kubectl}).to_string()
                }
                Err(error) => {
                    ui.say(&format!("{name} failed: {error}"));
                    format!("error: {error}")
                }
            }
        }
    }
}

/// What can be refused before any cluster is contacted: a delete of PVCs or Secrets, and,
/// without a model, a request that is not one of the fixed forms (saying how to configure one).
pub fn check(request: &str, options: &AskOptions) -> anyhow::Result<()> {
    if let Some(refusal) = fixed::refusal(request) {
        anyhow::bail!("{refusal}");
    }
    if options.llm.is_none() && fixed::parse(request) == Parsed::Unknown {
        anyhow::bail!(
            "no LLM is configured, and {request:?} is not one of the forms understood without one: {}. \
             For anything else, {HOW_TO_CONFIGURE}",
            fixed::FORMS
        );
    }
    Ok(())
}

/// Answers one request about the release. Errors: a refused request, a request that is not a
/// fixed form when no model is configured, the model endpoint failing, the round limit.
pub async fn ask(
    request: &str,
    cluster: &Cluster,
    options: &AskOptions,
    ui: &mut dyn Ui,
) -> anyhow::Result<Outcome> {
    check(request, options)?;
    match &options.llm {
        None => ask_fixed(request, cluster, ui).await,
        Some(config) => ask_model(request, cluster, options, config, ui).await,
    }
}

async fn ask_fixed(request: &str, cluster: &Cluster, ui: &mut dyn Ui) -> anyhow::Result<Outcome> {
    let intent = match fixed::parse(request) {
        Parsed::Intent(intent) => intent,
        Parsed::Refused(why) => anyhow::bail!("{why}"),
        Parsed::Unknown => anyhow::bail!("not one of the fixed forms: {}", fixed::FORMS),
    };
    ui.say(&format!(
        "(no LLM configured: understood as a fixed form; for free-form requests {HOW_TO_CONFIGURE})"
    ));
    let (name, args) = intent.call();
    let mut outcome = Outcome::default();
    let answer = run_tool(cluster, ui, &mut outcome, name, &args).await;
    if let Some(error) = answer.strip_prefix("error: ") {
        anyhow::bail!("{error}");
    }
    // A change's result is JSON for the model; the user has seen its lines already.
    if !answer.starts_with('{') {
        ui.say(&answer);
    }
    outcome.answer = answer;
    Ok(outcome)
}

async fn ask_model(
    request: &str,
    cluster: &Cluster,
    options: &AskOptions,
    config: &LlmConfig,
    ui: &mut dyn Ui,
) -> anyhow::Result<Outcome> {
    let llm = Llm::new(config.clone(), options.timeout)?;
    let definitions = tools::definitions(&cluster.release);
    let mut messages = vec![
        json!({"role": "system", "content": system_prompt(&cluster.release, options.context.as_deref())}),
        json!({"role": "user", "content": request}),
    ];
    let mut outcome = Outcome::default();
    for round in 1..=options.max_rounds {
        outcome.rounds = round;
        let message = llm
            .complete(&messages, &definitions)
            .await
            .with_context(|| format!("asking the model {}", llm.model()))?;
        let calls = message["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if calls.is_empty() {
            let answer = message["content"].as_str().unwrap_or_default().trim();
            anyhow::ensure!(
                !answer.is_empty(),
                "the model {} gave an empty answer; try again or rephrase",
                llm.model()
            );
            ui.say(answer);
            outcome.answer = answer.to_string();
            return Ok(outcome);
        }
        messages.push(json!({"role": "assistant", "content": message["content"].clone(), "tool_calls": calls}));
        // One at a time, in the model's order: a change may wait for the user.
        for call in &calls {
            let name = call["function"]["name"].as_str().unwrap_or_default();
            let raw = call["function"]["arguments"].as_str().unwrap_or("{}");
            let result = match serde_json::from_str::<Value>(if raw.trim().is_empty() {
                "{}"
            } else {
                raw
            }) {
                Ok(args) => run_tool(cluster, ui, &mut outcome, name, &args).await,
                Err(e) => {
                    ui.say(&format!(
                        "{name}: the model sent arguments that are not JSON"
                    ));
                    format!(
                        "error: the arguments were not JSON ({e}); send them again as a JSON object"
                    )
                }
            };
            messages.push(
                json!({"role": "tool", "tool_call_id": call["id"].clone(), "content": result}),
            );
        }
    }
    let made = if outcome.changed.is_empty() {
        "No change was made.".to_string()
    } else {
        format!("Changes made: {}.", outcome.changed.join("; "))
    };
    anyhow::bail!(
        "stopped after {} rounds of tool calls without an answer (--max-rounds). {made} Rephrase or split the request",
        options.max_rounds
    )
}
