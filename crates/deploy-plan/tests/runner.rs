//! The runner executes real processes (fake tools on a temporary PATH): pipes with a secret,
//! image checks, captures, and failures that say what failed and what to run next.
// Each #[tokio::test] runs on its own thread and runtime, so holding the exec lock (a plain
// Mutex) across awaits blocks nothing else.
#![allow(clippy::unwrap_used, clippy::await_holding_lock)]

mod support;

use std::sync::Arc;

use deploy_plan::deploy::Environment;
use deploy_plan::plan::{Action, Command, Expect, Phase, Step};
use deploy_plan::runner::Runner;
use support::{exec_lock, fake_tool, path_of};

const SECRET: &str = "sk-test-0123456789";

fn runner(dir: &std::path::Path) -> Runner {
    let env = Environment {
        root: dir.to_path_buf(),
        path: path_of(dir),
        llm_api_key_set: true,
        kubeconfig: None,
    };
    Runner::with_secrets(
        env,
        Arc::new(|name: &str| (name == "LLM_API_KEY").then(|| SECRET.to_string())),
    )
}

fn run(step: &str, expect: Expect) -> Step {
    let mut words = step.split(' ');
    let program = words.next().unwrap();
    Step::new(
        Phase::Release,
        Action::Run(Command::new(program, words).expect(expect)),
        "run the next thing",
    )
}

#[tokio::test]
async fn secret_goes_through_the_pipe_and_nowhere_else() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    // Like kubectl: `create ... -o yaml` prints, `apply -f -` reads stdin.
    fake_tool(
        dir.path(),
        "kubectl",
        &format!(
            r#"if [ "$1" = apply ]; then cat > '{0}/applied'; else echo "created: $*"; fi"#,
            dir.path().display()
        ),
    );
    let secret_step = Step::new(
        Phase::Secrets,
        Action::Pipe(
            Command::new(
                "kubectl",
                ["create", "secret", "generic", "todo-llm-api-key"],
            )
            .secret_arg("--from-literal=api-key=", "LLM_API_KEY"),
            Command::new("kubectl", ["apply", "-f", "-"]),
        ),
        "",
    );
    assert!(!secret_step.describe().contains(SECRET));
    runner(dir.path()).run(&[secret_step], 1, 1).await.unwrap();
    let applied = std::fs::read_to_string(dir.path().join("applied")).unwrap();
    assert_eq!(
        applied,
        format!(
            "created: create secret generic todo-llm-api-key --from-literal=api-key={SECRET}\n"
        )
    );
}

#[tokio::test]
async fn failing_pipe_reports_the_redacted_command() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(
        dir.path(),
        "kubectl",
        r#"if [ "$1" = apply ]; then cat >/dev/null; exit 1; else echo "$*"; fi"#,
    );
    let step = Step::new(
        Phase::Secrets,
        Action::Pipe(
            Command::new("kubectl", ["create", "secret"])
                .secret_arg("--from-literal=api-key=", "LLM_API_KEY"),
            Command::new("kubectl", ["apply", "-f", "-"]),
        ),
        "check you may create Secrets",
    );
    let error = format!(
        "{:#}",
        runner(dir.path()).run(&[step], 4, 9).await.unwrap_err()
    );
    assert!(!error.contains(SECRET), "{error}");
    assert!(error.contains("step 4/9 [secrets] failed: $ kubectl create secret --from-literal=api-key=<redacted> | kubectl apply -f -"), "{error}");
    assert!(
        error.contains("next: check you may create Secrets"),
        "{error}"
    );
    assert!(
        error.contains("`kubectl apply -f -` exited with exit status: 1"),
        "{error}"
    );
}

#[tokio::test]
async fn failure_stops_the_plan_with_what_to_run_next() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    // `ok-tool NAME` leaves a file NAME behind, so we see which steps ran.
    fake_tool(
        dir.path(),
        "ok-tool",
        &format!("touch '{}/'\"$1\"", dir.path().display()),
    );
    fake_tool(
        dir.path(),
        "helm",
        "echo 'Error: INSTALLATION FAILED: context deadline exceeded' >&2; exit 1",
    );
    let steps = [
        run("ok-tool first", Expect::Success),
        run("helm upgrade --install todo helm/todo", Expect::Success),
        run("ok-tool never", Expect::Success),
    ];
    let error = runner(dir.path()).run(&steps, 1, 3).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.starts_with("step 2/3 [helm] failed: $ helm upgrade --install todo helm/todo\nnext: run the next thing"), "{text}");
    assert!(
        text.contains("`helm upgrade --install todo helm/todo` exited with exit status: 1"),
        "{text}"
    );
    assert!(dir.path().join("first").exists(), "the first step ran");
    assert!(
        !dir.path().join("never").exists(),
        "nothing runs after a failure"
    );
}

#[tokio::test]
async fn image_list_must_contain_every_reference() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(
        dir.path(),
        "minikube",
        "printf 'registry.k8s.io/pause:3.10\\ndocker.io/library/todo-api:1\\n'",
    );
    let all_there = run(
        "minikube -p p image ls",
        Expect::ListsImages(vec!["todo-api:1".into()]),
    );
    runner(dir.path()).run(&[all_there], 1, 1).await.unwrap();
    let one_missing = run(
        "minikube -p p image ls",
        Expect::ListsImages(vec!["todo-api:1".into(), "todo-web:2".into()]),
    );
    let text = format!(
        "{:#}",
        runner(dir.path())
            .run(&[one_missing], 1, 1)
            .await
            .unwrap_err()
    );
    assert!(
        text.contains("not in the cluster after loading: [\"todo-web:2\"]"),
        "{text}"
    );
}

#[tokio::test]
async fn captured_output_and_preflight_gate() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(dir.path(), "minikube", "echo '192.168.49.2'");
    let mut runner = runner(dir.path());
    runner
        .run(
            &[run("minikube -p p ip", Expect::Capture("minikube ip"))],
            1,
            1,
        )
        .await
        .unwrap();
    assert_eq!(runner.captured("minikube ip"), Some("192.168.49.2"));

    let gate = Step::new(
        Phase::Preflight,
        Action::Check {
            checked: "helm".into(),
            problems: vec!["helm not found on PATH".into()],
        },
        "enter `nix develop`",
    );
    let text = format!("{:#}", runner.run(&[gate], 1, 5).await.unwrap_err());
    assert!(
        text.contains(
            "preflight found 1 problem(s); nothing was changed:\n  - helm not found on PATH"
        ),
        "{text}"
    );
    assert!(text.contains("next: enter `nix develop`"));
}

#[tokio::test]
async fn program_missing_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{:#}",
        runner(dir.path())
            .run(&[run("nonexistent-tool x", Expect::Success)], 1, 1)
            .await
            .unwrap_err()
    );
    assert!(
        text.contains("nonexistent-tool not found on PATH"),
        "{text}"
    );
}
