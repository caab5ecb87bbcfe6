//! `ask` against a scripted OpenAI-compatible server (real HTTP on loopback) and the shared
//! fake Kubernetes API server (crates/fake-apiserver, serving the doctor's fixtures over real HTTP):
//! what the model is offered and sent, what the user sees, and what reached the API server.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use cluster_ask::llm::LlmConfig;
use cluster_ask::tools::Change;
use cluster_ask::{AskOptions, Cluster, Release, Ui, ask};
use fake_apiserver::{FakeApiServer, Write, doctor_fixture};
use serde_json::{Value, json};

/// Answers the n-th completion request with `replies[n]` (the last one repeats), recording
/// each request body.
#[derive(Clone)]
struct Script {
    replies: Arc<Vec<Value>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

async fn completions(State(script): State<Script>, body: axum::Json<Value>) -> axum::Json<Value> {
    let n = {
        let mut requests = script.requests.lock().unwrap();
        requests.push(body.0);
        requests.len() - 1
    };
    let reply = script
        .replies
        .get(n)
        .or(script.replies.last())
        .cloned()
        .unwrap();
    axum::Json(
        json!({"id": "c", "object": "chat.completion", "model": "scripted",
        "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}]}),
    )
}

async fn scripted_llm(replies: Vec<Value>) -> (LlmConfig, Script) {
    let script = Script {
        replies: Arc::new(replies),
        requests: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(script.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = LlmConfig {
        base_url: url,
        model: "scripted".into(),
        api_key: Some("sk-test".into()),
    };
    (config, script)
}

fn calls(calls: &[(&str, Value)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            json!({"id": format!("call_{i}"), "type": "function",
            "function": {"name": name, "arguments": args.to_string()}})
        })
        .collect();
    json!({"role": "assistant", "content": null, "tool_calls": calls})
}

fn answer(text: &str) -> Value {
    json!({"role": "assistant", "content": text})
}

/// The user: records every line, answers each confirmation with `yes`.
struct Person {
    lines: Vec<String>,
    yes: bool,
    asked: Vec<String>,
}

impl Person {
    fn answering(yes: bool) -> Person {
        Person {
            lines: Vec::new(),
            yes,
            asked: Vec::new(),
        }
    }

    fn saw(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }
}

impl Ui for Person {
    fn say(&mut self, line: &str) {
        self.lines.push(line.to_string());
    }

    fn confirm(&mut self, change: &Change) -> bool {
        self.asked.push(change.kubectl.clone());
        self.yes
    }
}

async fn fake_cluster(fixture: &str, logs: HashMap<String, String>) -> (Cluster, FakeApiServer) {
    let state = FakeApiServer::with_objects(doctor_fixture(fixture).unwrap()).unwrap();
    for (pod, log) in &logs {
        state.set_log(pod, log);
    }
    let client = state.client().unwrap();
    let cluster = Cluster {
        client,
        release: Release::default(),
        context: None,
    };
    (cluster, state)
}

fn options(llm: Option<LlmConfig>) -> AskOptions {
    AskOptions {
        llm,
        ..AskOptions::default()
    }
}

/// The tool messages of a recorded completion request.
fn tool_results(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

const SCALE: &str = "kubectl scale deployment/todo-api --replicas=5 -n todo";

#[tokio::test]
async fn a_scale_request_shows_the_command_and_does_nothing_unconfirmed() {
    let (llm, script) = scripted_llm(vec![
        calls(&[("scale", json!({"workload": "api", "replicas": 5}))]),
        answer("I did not scale todo-api: the change was not confirmed."),
    ])
    .await;
    let (cluster, api) = fake_cluster("healthy.yaml", HashMap::new()).await;
    let mut person = Person::answering(false);
    let outcome = ask(
        "scale backend to 5 replicas",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();

    // The model was offered the typed tools, none of them a delete or a shell.
    let requests = script.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let offered: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        offered,
        [
            "get",
            "describe",
            "logs",
            "events",
            "rollout_status",
            "doctor",
            "scale",
            "scale_hpa",
            "rollout_restart"
        ]
    );
    assert!(
        requests[0]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("namespace todo")
    );
    assert_eq!(
        requests[0]["messages"][1]["content"],
        "scale backend to 5 replicas"
    );

    assert!(
        person.saw("change: scale deployment/todo-api from 2 to 5 replicas"),
        "{:?}",
        person.lines
    );
    assert!(
        person.lines.contains(&format!("  $ {SCALE}")),
        "{:?}",
        person.lines
    );
    assert_eq!(person.asked, [SCALE]);
    assert!(person.saw("not run."));
    assert!(tool_results(&requests[1])[0].contains("the user did not confirm"));
    assert_eq!(outcome.not_run, [SCALE]);
    assert!(outcome.changed.is_empty());
    assert!(api.writes().is_empty(), "nothing was written");
    assert_eq!(
        api.object("deployments", "todo-api").unwrap()["spec"]["replicas"],
        2
    );
}

#[tokio::test]
async fn a_confirmed_scale_patches_the_deployment() {
    let (llm, script) = scripted_llm(vec![
        calls(&[("scale", json!({"workload": "api", "replicas": 5}))]),
        answer("Scaled todo-api to 5 replicas."),
    ])
    .await;
    let (cluster, api) = fake_cluster("healthy.yaml", HashMap::new()).await;
    let mut person = Person::answering(true);
    let outcome = ask(
        "scale backend to 5 replicas",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();

    let writes = api.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let Write { method, uri, body } = &writes[0];
    assert_eq!(method, "PATCH");
    assert!(
        uri.starts_with("/apis/apps/v1/namespaces/todo/deployments/todo-api/scale"),
        "{uri}"
    );
    assert_eq!(body, &json!({"spec": {"replicas": 5}}));
    assert_eq!(
        api.object("deployments", "todo-api").unwrap()["spec"]["replicas"],
        5
    );

    assert_eq!(outcome.changed, [SCALE]);
    assert_eq!(outcome.answer, "Scaled todo-api to 5 replicas.");
    let results = tool_results(&script.requests.lock().unwrap()[1]);
    assert!(
        results[0].contains("scaled: 5 replicas wanted"),
        "{results:?}"
    );
    // The command was shown before the confirmation, and the answer came last.
    let shown = person.lines.iter().position(|l| l.contains(SCALE)).unwrap();
    let done = person
        .lines
        .iter()
        .position(|l| l.starts_with("done:"))
        .unwrap();
    assert!(shown < done);
    assert_eq!(
        person.lines.last().unwrap(),
        "Scaled todo-api to 5 replicas."
    );
}

#[tokio::test]
async fn a_question_is_answered_from_logs_and_findings_without_changes() {
    let log = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cluster-doctor/tests/fixtures/crashloop.todo-api.log"),
    )
    .unwrap();
    let (llm, script) = scripted_llm(vec![
        calls(&[("doctor", json!({})), ("logs", json!({"workload": "api", "previous": true}))]),
        answer("todo-api cannot log in to PostgreSQL: its password does not match. Fix the Secret, then `restart api`."),
    ])
    .await;
    let (cluster, api) = fake_cluster(
        "crashloop.yaml",
        HashMap::from([("todo-api-7c9d8b6f4-x2x7q".to_string(), log)]),
    )
    .await;
    let mut person = Person::answering(true);
    let outcome = ask(
        "why is the api pod crashing?",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();

    let requests = script.requests.lock().unwrap().clone();
    let results = tool_results(&requests[1]);
    assert_eq!(results.len(), 2);
    assert!(
        results[0].to_lowercase().contains("crash"),
        "the doctor's findings: {}",
        results[0]
    );
    assert!(
        results[1].contains("password authentication failed"),
        "the previous log: {}",
        results[1]
    );
    assert!(
        person.saw("reading: kubectl logs deployment/todo-api --tail=100 --previous -n todo"),
        "{:?}",
        person.lines
    );
    assert!(person.saw("its password does not match"));
    assert!(person.asked.is_empty(), "no confirmation for reads");
    assert!(outcome.changed.is_empty() && outcome.not_run.is_empty());
    assert!(api.writes().is_empty());
}

#[tokio::test]
async fn deleting_a_pvc_is_refused() {
    // Said outright: refused before the model is asked.
    let (llm, script) = scripted_llm(vec![answer("unused")]).await;
    let (cluster, api) = fake_cluster("healthy.yaml", HashMap::new()).await;
    let mut person = Person::answering(true);
    let error = ask(
        "delete the pvc data-todo-postgresql-0",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("never deletes PersistentVolumeClaims or Secrets"),
        "{error}"
    );
    assert!(error.contains("cargo xtask teardown --purge"), "{error}");
    assert!(script.requests.lock().unwrap().is_empty());

    // A model that reaches for a delete anyway gets a refusal, and nothing is deleted.
    let (llm, script) = scripted_llm(vec![
        calls(&[(
            "delete",
            json!({"kind": "pvc", "name": "data-todo-postgresql-0"}),
        )]),
        answer("I can't delete the database's volume; `cargo xtask teardown --purge` does that."),
    ])
    .await;
    let outcome = ask(
        "free the database's disk",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();
    let results = tool_results(&script.requests.lock().unwrap()[1]);
    assert!(
        results[0].starts_with("error: refused: there is no tool \"delete\""),
        "{results:?}"
    );
    assert!(person.saw("delete: refused"), "{:?}", person.lines);
    assert!(outcome.answer.contains("can't delete"));
    assert!(person.asked.is_empty());
    assert!(api.writes().is_empty(), "no DELETE reached the API server");
}

#[tokio::test]
async fn a_tool_error_reaches_the_model_and_the_user() {
    let (llm, script) = scripted_llm(vec![
        calls(&[("logs", json!({"workload": "worker"}))]),
        answer("There is no worker Deployment in namespace todo; the workloads are api, web, mcp and postgres."),
    ])
    .await;
    let (cluster, _api) = fake_cluster("healthy.yaml", HashMap::new()).await;
    let mut person = Person::answering(true);
    let outcome = ask(
        "show the worker's logs",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();
    let results = tool_results(&script.requests.lock().unwrap()[1]);
    assert!(
        results[0].starts_with("error: reading deployment/worker: the API server answered:"),
        "{results:?}"
    );
    assert!(results[0].contains("not found"), "{results:?}");
    assert!(
        person.saw("logs failed: reading deployment/worker"),
        "{:?}",
        person.lines
    );
    assert!(outcome.answer.contains("no worker Deployment"));
}

#[tokio::test]
async fn the_round_limit_holds() {
    let (llm, script) = scripted_llm(vec![calls(&[("get", json!({"kind": "pods"}))])]).await;
    let (cluster, api) = fake_cluster("healthy.yaml", HashMap::new()).await;
    let mut person = Person::answering(true);
    let options = AskOptions {
        max_rounds: 3,
        ..options(Some(llm))
    };
    let error = ask("list the pods forever", &cluster, &options, &mut person)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("stopped after 3 rounds"), "{error}");
    assert!(error.contains("No change was made"), "{error}");
    assert_eq!(script.requests.lock().unwrap().len(), 3);
    // Each round's tool really ran against the cluster.
    assert_eq!(
        person
            .lines
            .iter()
            .filter(|l| l.starts_with("reading: kubectl get pods"))
            .count(),
        3
    );
    assert!(
        tool_results(&script.requests.lock().unwrap()[2])[1]
            .contains("todo-api-7c9d8b6f4-x2x7q  ready 1/1")
    );
    assert!(api.writes().is_empty());
}

#[tokio::test]
async fn without_a_model_the_fixed_forms_still_work() {
    let (cluster, api) = fake_cluster("healthy.yaml", HashMap::new()).await;

    let mut person = Person::answering(true);
    let outcome = ask("scale api to 5", &cluster, &options(None), &mut person)
        .await
        .unwrap();
    assert!(person.saw("no LLM configured"), "{:?}", person.lines);
    assert!(person.saw("LLM_BASE_URL"));
    assert_eq!(outcome.changed, [SCALE]);
    assert_eq!(
        api.object("deployments", "todo-api").unwrap()["spec"]["replicas"],
        5
    );

    let mut person = Person::answering(true);
    ask("restart web", &cluster, &options(None), &mut person)
        .await
        .unwrap();
    assert!(
        person.saw("  $ kubectl rollout restart deployment/todo-web -n todo"),
        "{:?}",
        person.lines
    );
    let writes = api.writes();
    let Write { method, uri, body } = writes.last().unwrap();
    assert_eq!(method, "PATCH");
    assert_eq!(
        uri.split('?').next(),
        Some("/apis/apps/v1/namespaces/todo/deployments/todo-web")
    );
    assert!(
        body["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{body}"
    );

    let mut person = Person::answering(true);
    let outcome = ask("status", &cluster, &options(None), &mut person)
        .await
        .unwrap();
    assert!(outcome.answer.contains("todo-api"), "{}", outcome.answer);
    assert!(person.saw("todo-postgresql"), "{:?}", person.lines);

    let mut person = Person::answering(true);
    let error = ask(
        "why is everything slow?",
        &cluster,
        &options(None),
        &mut person,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("no LLM is configured"), "{error}");
    assert!(error.contains("\"scale api to 5\""), "{error}");
    assert!(error.contains("set LLM_BASE_URL"), "{error}");
    assert_eq!(
        api.writes().len(),
        2,
        "only the scale and the restart wrote"
    );
}

#[tokio::test]
async fn a_scale_under_an_hpa_warns_before_asking() {
    let mut objects = doctor_fixture("healthy.yaml").unwrap();
    objects.extend(
        doctor_fixture("hpa.yaml")
            .unwrap()
            .into_iter()
            .filter(|o| o["kind"] == "HorizontalPodAutoscaler"),
    );
    let api = FakeApiServer::with_objects(objects).unwrap();
    let client = api.client().unwrap();
    let cluster = Cluster {
        client,
        release: Release::default(),
        context: Some("todo-chatbot".into()),
    };
    let mut person = Person::answering(false);
    ask("scale api to 5", &cluster, &options(None), &mut person)
        .await
        .unwrap();
    assert!(
        person.saw(
            "  $ kubectl --context todo-chatbot scale deployment/todo-api --replicas=5 -n todo"
        ),
        "{:?}",
        person.lines
    );
    assert!(
        person.saw("note: HPA todo-api manages this Deployment (min 2, max 4)"),
        "{:?}",
        person.lines
    );

    let mut person = Person::answering(true);
    let (llm, _script) = scripted_llm(vec![
        calls(&[("scale_hpa", json!({"name": "api", "max_replicas": 6}))]),
        answer("todo-api may now scale to 6."),
    ])
    .await;
    ask(
        "let the api autoscale up to 6",
        &cluster,
        &options(Some(llm)),
        &mut person,
    )
    .await
    .unwrap();
    assert!(
        person.saw(r#"  $ kubectl --context todo-chatbot patch hpa/todo-api --type=merge -p '{"spec":{"maxReplicas":6}}' -n todo"#),
        "{:?}",
        person.lines
    );
    let hpa = api.object("horizontalpodautoscalers", "todo-api").unwrap();
    assert_eq!(
        (
            hpa["spec"]["minReplicas"].as_i64(),
            hpa["spec"]["maxReplicas"].as_i64()
        ),
        (Some(2), Some(6))
    );
}

#[tokio::test]
async fn every_call_stays_in_the_namespace_it_was_given() {
    // The release's objects live in "staging" only: a call that strays finds nothing.
    let objects = doctor_fixture("healthy.yaml")
        .unwrap()
        .into_iter()
        .map(|mut o| {
            o["metadata"]["namespace"] = json!("staging");
            o
        });
    let api = FakeApiServer::with_objects(objects).unwrap();
    let client = api.client().unwrap();
    let cluster = Cluster {
        client,
        release: Release {
            name: "todo".into(),
            namespace: "staging".into(),
        },
        context: None,
    };
    let mut person = Person::answering(true);
    ask("scale web to 3", &cluster, &options(None), &mut person)
        .await
        .unwrap();
    assert!(
        person.saw("  $ kubectl scale deployment/todo-web --replicas=3 -n staging"),
        "{:?}",
        person.lines
    );
    let requests = api.uris();
    assert!(!requests.is_empty());
    for uri in &requests {
        assert!(uri.contains("/namespaces/staging/"), "{uri}");
    }
}
