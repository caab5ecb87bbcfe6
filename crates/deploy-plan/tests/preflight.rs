//! Preflight with fake tools on a temporary PATH: missing and too-old tools give the documented
//! errors, before anything changes.
#![allow(clippy::unwrap_used)]

mod support;

use deploy_plan::preflight::{Driver, DriverCheck, Preflight, ToolState, check_tool};
use deploy_plan::version::Version;
use deploy_plan::{
    ClusterTarget, DeployOptions, Environment, PresentImages, ProfileState, Tool,
    deploy::gather_deploy_facts, deploy_plan,
};
use support::{HELM_VERSION, KUBECTL_VERSION, MINIKUBE_VERSION, exec_lock, fake_tool, path_of};

const DEPLOY_TOOLS: &[Tool] = &[Tool::Minikube, Tool::Helm, Tool::Kubectl];

#[test]
fn all_tools_present_and_recent() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(dir.path(), "minikube", MINIKUBE_VERSION);
    fake_tool(dir.path(), "helm", HELM_VERSION);
    fake_tool(dir.path(), "kubectl", KUBECTL_VERSION);
    fake_tool(dir.path(), "docker", "echo '27.3.1'");
    let preflight = Preflight::run(DEPLOY_TOOLS, &[], true, &path_of(dir.path()));
    assert_eq!(preflight.problems(), Vec::<String>::new());
    assert_eq!(
        preflight.driver,
        DriverCheck::Found {
            driver: Driver::Docker,
            version: Version::new(27, 3, 1)
        }
    );
    assert_eq!(
        preflight.tool(Tool::Kubectl).unwrap().version(),
        Some(Version::new(1, 32, 4))
    );
    assert_eq!(
        preflight.summary_lines()[1],
        format!(
            "helm 3.17.3 at {}/helm (ok, need >= 3.16.0)",
            dir.path().display()
        )
    );
}

#[test]
fn missing_tool_is_named_with_how_to_get_it() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(dir.path(), "helm", HELM_VERSION);
    fake_tool(dir.path(), "kubectl", KUBECTL_VERSION);
    fake_tool(dir.path(), "docker", "echo '27.3.1'");
    let preflight = Preflight::run(DEPLOY_TOOLS, &[], true, &path_of(dir.path()));
    assert_eq!(
        preflight.problems(),
        [
            "minikube not found on PATH: install minikube >= 1.33.0 (https://minikube.sigs.k8s.io/docs/start/) or enter \
          `nix develop`, which provides minikube, helm, kubectl and skopeo"
        ]
    );
}

#[test]
fn too_old_tool_gives_version_and_minimum() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(dir.path(), "minikube", MINIKUBE_VERSION);
    fake_tool(dir.path(), "helm", "echo 'v3.15.4+gfa9efb0'");
    fake_tool(
        dir.path(),
        "kubectl",
        "echo 'Client Version: v1.27.16'; echo 'Kustomize Version: v5.0.1'",
    );
    fake_tool(dir.path(), "docker", "echo '27.3.1'");
    let preflight = Preflight::run(DEPLOY_TOOLS, &[], true, &path_of(dir.path()));
    let d = dir.path().display();
    assert_eq!(
        preflight.problems(),
        [
            format!(
                "helm 3.15.4 ({d}/helm) is too old: need >= 3.16.0; upgrade it or enter `nix develop`"
            ),
            format!(
                "kubectl 1.27.16 ({d}/kubectl) is too old: need >= 1.28.0; upgrade it or enter `nix develop`"
            ),
        ]
    );
}

#[test]
fn broken_tool_is_unusable() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(
        dir.path(),
        "helm",
        "echo 'Error: something broke' >&2; exit 1",
    );
    fake_tool(dir.path(), "skopeo", "echo 'hello'");
    let path = path_of(dir.path());
    let helm = check_tool(Tool::Helm, &path);
    assert!(matches!(helm.state, ToolState::Unusable { .. }), "{helm:?}");
    assert!(
        helm.problem()
            .unwrap()
            .contains("does not report a version (`version --short` exited with exit status: 1)")
    );
    let skopeo = check_tool(Tool::Skopeo, &path);
    assert!(
        skopeo
            .problem()
            .unwrap()
            .contains("unexpected output \"hello\""),
        "{skopeo:?}"
    );
}

#[test]
fn driver_detection_skips_an_unreachable_docker_daemon() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    fake_tool(
        dir.path(),
        "docker",
        "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1",
    );
    let path = path_of(dir.path());
    let none = deploy_plan::preflight::detect_driver(&path);
    assert_eq!(
        none.problem().unwrap(),
        "no minikube driver found (docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the \
         docker daemon running?; podman: not on PATH; virsh: not on PATH): install and start Docker (or Podman, or \
         libvirt for kvm2); `docker version` must reach the daemon"
    );
    fake_tool(dir.path(), "podman", "echo '4.3.1'");
    assert_eq!(
        deploy_plan::preflight::detect_driver(&path),
        DriverCheck::Found {
            driver: Driver::Podman,
            version: Version::new(4, 3, 1)
        }
    );
}

/// The whole fact gathering against fake tools: a running profile with addons, one image
/// already loaded, the manifest on disk.
#[test]
fn facts_from_fake_minikube_and_kubectl() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("target/images")).unwrap();
    std::fs::write(
        root.join("target/images/manifest.json"),
        r#"{"images":[
          {"service":"todo-api","name":"todo-api","tag":"3f9a2c1d0b7e","reference":"todo-api:3f9a2c1d0b7e","digest":"sha256:1c","archive":"target/images/todo-api.oci.tar","size":1},
          {"service":"todo-mcp","name":"todo-mcp","tag":"8d41be07aa19","reference":"todo-mcp:8d41be07aa19","digest":"sha256:2d","archive":"target/images/todo-mcp.oci.tar","size":1},
          {"service":"todo-web","name":"todo-web","tag":"c02e6f5a9d13","reference":"todo-web:c02e6f5a9d13","digest":"sha256:3e","archive":"target/images/todo-web.oci.tar","size":1}]}"#,
    )
    .unwrap();
    fake_tool(
        &bin,
        "minikube",
        r#"case "$*" in
  "version") echo 'minikube version: v1.34.0'; echo 'commit: 210b148df93a80eb872ecbeb7e35281b3c582c61';;
  "-p todo-chatbot status -o json") echo '{"Name":"todo-chatbot","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false}';;
  "-p todo-chatbot addons list -o json") echo '{"ingress":{"Profile":"todo-chatbot","Status":"enabled"},"metrics-server":{"Profile":"todo-chatbot","Status":"disabled"}}';;
  "-p todo-chatbot image ls") printf 'registry.k8s.io/pause:3.10\ndocker.io/library/todo-api:3f9a2c1d0b7e\ndocker.io/library/todo-web:0000aaaa1111\n';;
  *) echo "unexpected minikube $*" >&2; exit 64;;
esac"#,
    );
    fake_tool(&bin, "helm", HELM_VERSION);
    fake_tool(
        &bin,
        "kubectl",
        r#"case "$*" in
  "version --client") echo 'Client Version: v1.32.4-dispatcher'; echo 'Kustomize Version: v5.5.0';;
  "config current-context") echo 'kind-other';;
  "--context todo-chatbot get nodes -o jsonpath={.items[*].status.nodeInfo.architecture}") printf 'arm64';;
  *) echo "unexpected kubectl $*" >&2; exit 64;;
esac"#,
    );
    let env = Environment {
        root,
        path: path_of(&bin),
        llm_api_key_set: false,
        kubeconfig: None,
    };
    let options = DeployOptions {
        images: deploy_plan::ImagesMode::Native,
        ..DeployOptions::default()
    };
    let facts = gather_deploy_facts(&options, &env, true).unwrap();
    assert_eq!(facts.preflight.problems(), Vec::<String>::new());
    assert_eq!(
        facts.preflight.driver,
        DriverCheck::NotNeeded,
        "a running profile keeps its driver"
    );
    assert_eq!(facts.profile, ProfileState::Running);
    assert_eq!(
        facts
            .addons
            .as_ref()
            .map(|a| a.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["ingress".to_string()])
    );
    assert_eq!(facts.current_context.as_deref(), Some("kind-other"));
    assert!(matches!(facts.present, PresentImages::Known(ref set) if set.len() == 3));
    // The running profile's node, asked with kubectl.
    assert_eq!(
        facts.node_architectures.iter().collect::<Vec<_>>(),
        ["arm64"]
    );
    let steps = deploy_plan(&options, &facts).descriptions();
    assert_eq!(
        steps[1..11],
        [
            "skip: minikube profile todo-chatbot is running: reusing it",
            "$ kubectl config use-context todo-chatbot",
            "skip: addon ingress is already enabled",
            "$ minikube -p todo-chatbot addons enable metrics-server",
            "$ cargo xtask images",
            "skip: images for linux/arm64: the cluster's nodes are linux/arm64",
            "skip: minikube already has todo-api:3f9a2c1d0b7e: not loading it again",
            "$ minikube -p todo-chatbot image load target/images/todo-mcp.oci.tar",
            "$ minikube -p todo-chatbot image load target/images/todo-web.oci.tar",
            "$ minikube -p todo-chatbot image ls  # must list todo-api:3f9a2c1d0b7e, todo-mcp:8d41be07aa19, todo-web:c02e6f5a9d13",
        ]
    );

    // --cluster current: minikube is not even asked.
    let current = DeployOptions {
        cluster: ClusterTarget::Current,
        registry: Some("localhost:5000".into()),
        ..options
    };
    let facts = gather_deploy_facts(&current, &env, false).unwrap();
    assert_eq!(facts.profile, ProfileState::Unknown);
    assert_eq!(
        facts.preflight.problems(),
        [
            "skopeo not found on PATH: install skopeo >= 1.9.0 (`apt-get install skopeo` or your package manager) or \
          enter `nix develop`, which provides minikube, helm, kubectl and skopeo"
        ]
    );
}

#[test]
fn missing_values_file_is_a_preflight_problem() {
    let _lock = exec_lock();
    let dir = tempfile::tempdir().unwrap();
    let env = Environment {
        root: dir.path().to_path_buf(),
        path: path_of(dir.path()),
        llm_api_key_set: false,
        kubeconfig: None,
    };
    let options = DeployOptions {
        values: deploy_plan::ValuesChoice::File("my-values.yaml".into()),
        images: deploy_plan::ImagesMode::Native,
        ..DeployOptions::default()
    };
    let facts = gather_deploy_facts(&options, &env, false).unwrap();
    assert!(
        facts
            .preflight
            .problems()
            .contains(&"--values my-values.yaml: no such file".to_string())
    );
}
