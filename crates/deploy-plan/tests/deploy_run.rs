//! `deploy` and `teardown` run for real, end to end: fake minikube, cargo, helm and kubectl on a
//! temporary PATH record what they are asked to do; the rollout watch and the access step talk
//! to the scripted API server through a kubeconfig. Checks the order of the commands, the
//! re-planning after the image build (the manifest only exists then), the skipped load of an
//! image the cluster already has, and that a failed helm stops everything after it.
// Each #[tokio::test] runs on its own thread and runtime, so holding the exec lock (a plain
// Mutex) across awaits blocks nothing else.
#![allow(clippy::unwrap_used, clippy::await_holding_lock)]

mod support;

use std::path::Path;

use deploy_plan::{DeployOptions, Environment, ImagesMode, TeardownOptions, commands};
use fake_apiserver::{FakeApiServer, doctor_fixture};
use support::{HELM_VERSION, MINIKUBE_VERSION, exec_lock, fake_tool, path_of};

const MANIFEST: &str = r#"{"images":[{"service":"todo-api","name":"todo-api","tag":"3f9a2c1d0b7e","reference":"todo-api:3f9a2c1d0b7e","digest":"sha256:1c","archive":"target/images/todo-api.oci.tar","size":1},{"service":"todo-mcp","name":"todo-mcp","tag":"8d41be07aa19","reference":"todo-mcp:8d41be07aa19","digest":"sha256:2d","archive":"target/images/todo-mcp.oci.tar","size":1},{"service":"todo-web","name":"todo-web","tag":"c02e6f5a9d13","reference":"todo-web:c02e6f5a9d13","digest":"sha256:3e","archive":"target/images/todo-web.oci.tar","size":1}]}"#;

/// Fake tools that append `<tool> <args>` to `calls` for everything but read-only probes.
fn install_fakes(bin: &Path, calls: &Path, helm_exit: i32) {
    let log = |tool: &str| format!("echo \"{tool} $*\" >> '{}'", calls.display());
    fake_tool(
        bin,
        "minikube",
        &format!(
            r#"state='{state}'
case "$*" in
  "version") {MINIKUBE_VERSION};;
  "-p todo-chatbot status -o json") echo '{{"Name":"todo-chatbot","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false}}';;
  "-p todo-chatbot addons list -o json") echo '{{"ingress":{{"Profile":"todo-chatbot","Status":"enabled"}},"metrics-server":{{"Profile":"todo-chatbot","Status":"disabled"}}}}';;
  "-p todo-chatbot image ls") {log}; printf 'registry.k8s.io/pause:3.10\ndocker.io/library/todo-api:3f9a2c1d0b7e\n'; cat "$state" 2>/dev/null || true;;
  "-p todo-chatbot image load target/images/todo-mcp.oci.tar") {log}; echo docker.io/library/todo-mcp:8d41be07aa19 >> "$state";;
  "-p todo-chatbot image load target/images/todo-web.oci.tar") {log}; echo docker.io/library/todo-web:c02e6f5a9d13 >> "$state";;
  "-p todo-chatbot ip") {log}; echo 192.168.49.2;;
  "profile list -o json") echo '{{"invalid":[],"valid":[{{"Name":"todo-chatbot","Config":{{"Name":"todo-chatbot","Driver":"docker"}}}}]}}';;
  *) {log};;
esac"#,
            state = bin.join("loaded").display(),
            log = log("minikube"),
        ),
    );
    fake_tool(
        bin,
        "kubectl",
        &format!(
            r#"case "$*" in
  "version --client") echo 'Client Version: v1.32.4'; echo 'Kustomize Version: v5.5.0';;
  "config current-context") echo todo-chatbot;;
  *) {};;
esac"#,
            log("kubectl")
        ),
    );
    fake_tool(
        bin,
        "helm",
        &format!(
            r#"case "$*" in
  "version --short") {HELM_VERSION};;
  *) {}; test -n "$KUBECONFIG" || exit 99; exit {helm_exit};;
esac"#,
            log("helm")
        ),
    );
    // `cargo xtask images` writes the manifest, as the real build does.
    fake_tool(
        bin,
        "cargo",
        &format!(
            r#"{}
if [ "$*" = "xtask images" ]; then mkdir -p target/images && echo '{MANIFEST}' > target/images/manifest.json; fi"#,
            log("cargo")
        ),
    );
}

fn calls(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

const NODES_PROBE: &str =
    "kubectl --context todo-chatbot get nodes -o jsonpath={.items[*].status.nodeInfo.architecture}";

#[tokio::test]
async fn deploy_runs_the_plan_in_order_and_replans_after_the_build() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let (bin, root) = (dir.path().join("bin"), dir.path().join("repo"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let calls_file = dir.path().join("calls");
    install_fakes(&bin, &calls_file, 0);
    let server = FakeApiServer::with_objects(doctor_fixture("healthy.yaml").unwrap()).unwrap();
    let env = Environment {
        root: root.clone(),
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: Some(kubeconfig(dir.path(), &server.url())),
    };
    let options = DeployOptions {
        images: ImagesMode::Native,
        ..DeployOptions::default()
    };
    commands::deploy(&options, &env, false).await.unwrap();
    assert_eq!(
        calls(&calls_file),
        [
            // Read-only: which CPU the running profile's nodes have.
            NODES_PROBE,
            "minikube -p todo-chatbot addons enable metrics-server",
            "cargo xtask images",
            // The read-only probes after the build: todo-api is already there, so it is not
            // loaded; the nodes are asked again (a first deploy starts the cluster before).
            "minikube -p todo-chatbot image ls",
            NODES_PROBE,
            "minikube -p todo-chatbot image load target/images/todo-mcp.oci.tar",
            "minikube -p todo-chatbot image load target/images/todo-web.oci.tar",
            "minikube -p todo-chatbot image ls",
            "helm --kube-context todo-chatbot upgrade --install todo helm/todo --namespace todo --create-namespace \
             --atomic --wait --timeout 10m -f helm/todo/values-dev.yaml --set api.image.tag=3f9a2c1d0b7e \
             --set mcp.image.tag=8d41be07aa19 --set web.image.tag=c02e6f5a9d13 --set image.registry=",
            "minikube -p todo-chatbot ip",
            "cargo xtask smoke --namespace todo",
        ]
    );
}

#[tokio::test]
async fn failed_helm_stops_the_deploy_and_says_what_next() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let (bin, root) = (dir.path().join("bin"), dir.path().join("repo"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let calls_file = dir.path().join("calls");
    install_fakes(&bin, &calls_file, 1);
    // The release never becomes ready: the doctor runs on the namespace after helm fails.
    let server = FakeApiServer::with_objects(doctor_fixture("crashloop.yaml").unwrap()).unwrap();
    let env = Environment {
        root,
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: Some(kubeconfig(dir.path(), &server.url())),
    };
    let options = DeployOptions {
        images: ImagesMode::Native,
        ..DeployOptions::default()
    };
    let error = format!(
        "{:#}",
        commands::deploy(&options, &env, false).await.unwrap_err()
    );
    assert!(
        error.starts_with(
            "step 12/16 [helm] failed: $ helm --kube-context todo-chatbot upgrade --install todo"
        ),
        "{error}"
    );
    assert!(error.contains("next: the doctor's findings above say why; `cargo xtask doctor --namespace todo` re-checks"), "{error}");
    let made = calls(&calls_file);
    assert!(
        made.last().unwrap().starts_with("helm "),
        "nothing after helm: {made:?}"
    );
    // The doctor read the namespace (its pod list) after the failure.
    let requests = server.uris();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces/todo/pods?") && !r.contains("watch=true")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn teardown_purge_runs_in_order() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls_file = dir.path().join("calls");
    install_fakes(&bin, &calls_file, 0);
    let env = Environment {
        root: dir.path().to_path_buf(),
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: None,
    };
    let options = TeardownOptions {
        purge: true,
        ..TeardownOptions::default()
    };
    // helm here insists on KUBECONFIG (exit 99 without it): give the tools one.
    let env = Environment {
        kubeconfig: Some(kubeconfig(dir.path(), "http://127.0.0.1:9")),
        ..env
    };
    commands::teardown(&options, &env, false).await.unwrap();
    assert_eq!(
        calls(&calls_file),
        [
            "helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            "kubectl --context todo-chatbot delete pvc,secret --namespace todo -l app.kubernetes.io/instance=todo --ignore-not-found --wait",
            "kubectl --context todo-chatbot delete namespace todo --ignore-not-found --wait",
            "minikube delete -p todo-chatbot",
        ]
    );
}

/// Plain teardown, run: the release goes, and the only other call lists what was kept.
#[tokio::test]
async fn plain_teardown_runs_helm_uninstall_only() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls_file = dir.path().join("calls");
    install_fakes(&bin, &calls_file, 0);
    let env = Environment {
        root: dir.path().to_path_buf(),
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: Some(kubeconfig(dir.path(), "http://127.0.0.1:9")),
    };
    commands::teardown(&TeardownOptions::default(), &env, false)
        .await
        .unwrap();
    assert_eq!(
        calls(&calls_file),
        [
            "helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            "kubectl --context todo-chatbot get pvc,secret --namespace todo -l app.kubernetes.io/instance=todo",
        ]
    );
}

/// `teardown --purge --with-kagent`, run: kagent's releases and namespace go after the todo
/// release and before the minikube profile.
#[tokio::test]
async fn teardown_with_kagent_runs_its_steps_in_order() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls_file = dir.path().join("calls");
    install_fakes(&bin, &calls_file, 0);
    let env = Environment {
        root: dir.path().to_path_buf(),
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: Some(kubeconfig(dir.path(), "http://127.0.0.1:9")),
    };
    let options = TeardownOptions {
        purge: true,
        kagent: true,
        ..TeardownOptions::default()
    };
    commands::teardown(&options, &env, false).await.unwrap();
    assert_eq!(
        calls(&calls_file),
        [
            "helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            "kubectl --context todo-chatbot delete pvc,secret --namespace todo -l app.kubernetes.io/instance=todo --ignore-not-found --wait",
            "kubectl --context todo-chatbot delete namespace todo --ignore-not-found --wait",
            "helm --kube-context todo-chatbot uninstall kagent --namespace kagent --ignore-not-found --wait",
            "helm --kube-context todo-chatbot uninstall kagent-crds --namespace kagent --ignore-not-found --wait",
            "kubectl --context todo-chatbot delete namespace kagent --ignore-not-found --wait",
            "minikube delete -p todo-chatbot",
        ]
    );
}

/// A kubeconfig in `dir` whose context `todo-chatbot` (the deploy's) points at `url`.
fn kubeconfig(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    fake_apiserver::write_kubeconfig(dir, url, "todo-chatbot", "todo").unwrap()
}
