//! `deploy --dry-run` and `teardown --dry-run` plans, asserted step by step (exact commands in
//! order) on fixture facts.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use deploy_plan::facts::normalize_reference;
use deploy_plan::preflight::{Driver, DriverCheck, ToolCheck, ToolState};
use deploy_plan::version::Version;
use deploy_plan::{
    ClusterTarget, DeployFacts, DeployOptions, ImageManifest, ImagesMode, Preflight, PresentImages,
    ProfileState, TeardownFacts, TeardownOptions, Tool, ValuesChoice, deploy_plan, teardown_plan,
};

/// What `cargo xtask images` writes: per service the multi-platform index archive and one
/// archive per platform.
const MANIFEST: &str = r#"{"images":[
  {"service":"todo-api","name":"todo-api","tag":"3f9a2c1d0b7e","reference":"todo-api:3f9a2c1d0b7e","digest":"sha256:1c2d3e4f","archive":"target/images/todo-api.oci.tar","size":10871234,
   "platforms":[{"architecture":"amd64","os":"linux","digest":"sha256:a1","archive":"target/images/todo-api-amd64.oci.tar","size":5871234},
                {"architecture":"arm64","os":"linux","digest":"sha256:a2","archive":"target/images/todo-api-arm64.oci.tar","size":5271234}]},
  {"service":"todo-mcp","name":"todo-mcp","tag":"8d41be07aa19","reference":"todo-mcp:8d41be07aa19","digest":"sha256:2d3e4f5a","archive":"target/images/todo-mcp.oci.tar","size":10012345,
   "platforms":[{"architecture":"amd64","os":"linux","digest":"sha256:b1","archive":"target/images/todo-mcp-amd64.oci.tar","size":5012345},
                {"architecture":"arm64","os":"linux","digest":"sha256:b2","archive":"target/images/todo-mcp-arm64.oci.tar","size":4912345}]},
  {"service":"todo-web","name":"todo-web","tag":"c02e6f5a9d13","reference":"todo-web:c02e6f5a9d13","digest":"sha256:3e4f5a6b","archive":"target/images/todo-web.oci.tar","size":10123456,
   "platforms":[{"architecture":"amd64","os":"linux","digest":"sha256:c1","archive":"target/images/todo-web-amd64.oci.tar","size":5123456},
                {"architecture":"arm64","os":"linux","digest":"sha256:c2","archive":"target/images/todo-web-arm64.oci.tar","size":4923456}]}
]}"#;

fn tools(required: &[(Tool, Version)], optional: &[ToolCheck]) -> Preflight {
    Preflight {
        required: required
            .iter()
            .map(|(tool, version)| ToolCheck::ok(*tool, *version))
            .collect(),
        optional: optional.to_vec(),
        driver: DriverCheck::NotNeeded,
        other_problems: Vec::new(),
    }
}

fn missing(tool: Tool) -> ToolCheck {
    ToolCheck {
        tool,
        state: ToolState::Missing,
    }
}

fn minikube_tools(helm: Version) -> Preflight {
    let mut preflight = tools(
        &[
            (Tool::Minikube, Version::new(1, 34, 0)),
            (Tool::Helm, helm),
            (Tool::Kubectl, Version::new(1, 32, 4)),
        ],
        &[missing(Tool::Nix)],
    );
    preflight.driver = DriverCheck::Found {
        driver: Driver::Docker,
        version: Version::new(27, 3, 1),
    };
    preflight
}

fn manifest() -> ImageManifest {
    ImageManifest::parse(MANIFEST, "").unwrap()
}

fn present(references: &[&str]) -> PresentImages {
    PresentImages::Known(references.iter().map(|r| normalize_reference(r)).collect())
}

const HELM_V3: Version = Version::new(3, 17, 3);
const HELM_V4: Version = Version::new(4, 1, 4);
const WAIT: &str = "kube-rs: watch Deployment todo/todo-api, todo/todo-mcp, todo/todo-web and StatefulSet \
                    todo/todo-postgresql (if the release has it) until rolled out, streaming progress; timeout 10m";
const ACCESS_MINIKUBE: &str = "kube-rs: list Ingresses in todo; print http://<host> for each Ingress host (todo.local \
                               with the dev values) and the /etc/hosts line `<minikube ip> <host>`, or `kubectl \
                               port-forward -n todo svc/todo-web 8080:8080`";

#[test]
fn minikube_first_deploy() {
    let options = DeployOptions::default();
    let facts = DeployFacts {
        preflight: minikube_tools(HELM_V3),
        profile: ProfileState::Absent,
        addons: None,
        current_context: Some("kind-other".into()),
        manifest: Some(manifest()),
        present: PresentImages::Unknown,
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let plan = deploy_plan(&options, &facts);
    assert_eq!(
        plan.descriptions(),
        [
            "check minikube >= 1.33.0, helm >= 3.16.0, kubectl >= 1.28.0, a minikube driver (docker, podman or kvm2): ok",
            "$ minikube start -p todo-chatbot --cpus 2 --memory 4096 --driver=docker",
            "$ minikube -p todo-chatbot addons enable ingress",
            "$ minikube -p todo-chatbot addons enable metrics-server",
            "skip: images: native builder (`cargo xtask images`): Nix not found",
            "$ cargo xtask images",
            "skip: images for linux/amd64: the cluster is not up to ask yet; minikube runs this machine's CPU, linux/amd64",
            "$ minikube -p todo-chatbot image load target/images/todo-api-amd64.oci.tar",
            "$ minikube -p todo-chatbot image load target/images/todo-mcp-amd64.oci.tar",
            "$ minikube -p todo-chatbot image load target/images/todo-web-amd64.oci.tar",
            "$ minikube -p todo-chatbot image ls  # must list todo-api:3f9a2c1d0b7e, todo-mcp:8d41be07aa19, todo-web:c02e6f5a9d13",
            "skip: LLM_API_KEY is not set: no LLM key Secret, the built-in chat engine answers",
            "$ helm --kube-context todo-chatbot upgrade --install todo helm/todo --namespace todo --create-namespace \
             --atomic --wait --timeout 10m -f helm/todo/values-dev.yaml --set api.image.tag=3f9a2c1d0b7e \
             --set mcp.image.tag=8d41be07aa19 --set web.image.tag=c02e6f5a9d13 --set image.registry=",
            WAIT,
            "$ minikube -p todo-chatbot ip  # output is the minikube ip",
            ACCESS_MINIKUBE,
            "$ cargo xtask smoke --namespace todo",
        ]
    );
    assert!(plan.problems().is_empty());
    // The watch runs alongside helm's own wait; both diagnose on failure.
    assert!(plan.steps[13].alongside_previous && plan.steps[13].diagnose_on_failure);
    assert!(plan.steps[12].diagnose_on_failure);
    let text = plan.render();
    assert!(
        text.contains("14. [wait] kube-rs: watch Deployment todo/todo-api")
            && text.contains("(runs alongside the previous step)")
    );
    assert!(text.contains("Preflight passed: this plan can run."));

    // The same first deploy from macOS with the docker driver: tunnel and 127.0.0.1.
    let mac = DeployFacts {
        host_os: "macos".into(),
        minikube_driver: Some("docker".into()),
        ..facts
    };
    let plan = deploy_plan(&options, &mac);
    assert_eq!(
        plan.descriptions()[15],
        "kube-rs: list Ingresses in todo; print http://<host> for each Ingress host (todo.local with the dev values), \
         `minikube tunnel` to run (the minikube IP is not reachable with the docker driver here) and the /etc/hosts \
         line `127.0.0.1 <host>`, or `kubectl port-forward -n todo svc/todo-web 8080:8080`"
    );
}

#[test]
fn minikube_redeploy_reuses_everything_it_can_and_keeps_the_key_secret() {
    let options = DeployOptions {
        values: ValuesChoice::Prod,
        sets: vec!["api.replicaCount=1".into()],
        smoke: false,
        ..DeployOptions::default()
    };
    let facts = DeployFacts {
        preflight: minikube_tools(HELM_V4),
        profile: ProfileState::Running,
        addons: Some(BTreeSet::from([
            "ingress".to_string(),
            "metrics-server".to_string(),
            "storage-provisioner".to_string(),
        ])),
        current_context: Some("kind-other".into()),
        manifest: Some(manifest()),
        // The web image changed since the last deploy; api and mcp did not.
        present: present(&[
            "todo-api:3f9a2c1d0b7e",
            "todo-mcp:8d41be07aa19",
            "todo-web:0000aaaa1111",
        ]),
        llm_api_key_set: true,
        // An Apple-silicon laptop: minikube's node is arm64, whatever this machine is.
        node_architectures: BTreeSet::from(["arm64".to_string()]),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let plan = deploy_plan(&options, &facts);
    assert_eq!(
        plan.descriptions(),
        [
            "check minikube >= 1.33.0, helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: minikube profile todo-chatbot is running: reusing it",
            "$ kubectl config use-context todo-chatbot",
            "skip: addon ingress is already enabled",
            "skip: addon metrics-server is already enabled",
            "skip: images: native builder (`cargo xtask images`): Nix not found",
            "$ cargo xtask images",
            "skip: images for linux/arm64: the cluster's nodes are linux/arm64",
            "skip: minikube already has todo-api:3f9a2c1d0b7e: not loading it again",
            "skip: minikube already has todo-mcp:8d41be07aa19: not loading it again",
            "$ minikube -p todo-chatbot image load target/images/todo-web-arm64.oci.tar",
            "$ minikube -p todo-chatbot image ls  # must list todo-api:3f9a2c1d0b7e, todo-mcp:8d41be07aa19, todo-web:c02e6f5a9d13",
            "$ kubectl --context todo-chatbot create namespace todo --dry-run=client -o yaml | kubectl --context \
             todo-chatbot apply -f -",
            "$ kubectl --context todo-chatbot create secret generic todo-llm-api-key --namespace todo \
             --from-literal=api-key=<redacted> --dry-run=client -o yaml | kubectl --context todo-chatbot apply -f -  \
             # value read from $LLM_API_KEY, never printed",
            "$ helm --kube-context todo-chatbot upgrade --install todo helm/todo --namespace todo --create-namespace \
             --rollback-on-failure --wait=watcher --timeout 10m -f helm/todo/values-prod.yaml \
             --set api.image.tag=3f9a2c1d0b7e --set mcp.image.tag=8d41be07aa19 --set web.image.tag=c02e6f5a9d13 \
             --set image.registry= --set llm.existingSecret=todo-llm-api-key --set api.replicaCount=1",
            WAIT,
            "$ minikube -p todo-chatbot ip  # output is the minikube ip",
            ACCESS_MINIKUBE,
            "skip: --no-smoke: not running `cargo xtask smoke`",
        ]
    );
    let text = plan.render();
    assert!(text.contains("LLM_API_KEY: set (value not shown)"));
    assert!(text.contains("--from-literal=api-key=<redacted>"));
}

#[test]
fn stopped_profile_is_started_without_new_sizing() {
    let facts = DeployFacts {
        preflight: minikube_tools(HELM_V3),
        profile: ProfileState::Stopped,
        addons: None,
        current_context: None,
        manifest: Some(manifest()),
        present: PresentImages::Unknown,
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let plan = deploy_plan(&DeployOptions::default(), &facts);
    assert_eq!(
        plan.descriptions()[..2],
        [
            "check minikube >= 1.33.0, helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "$ minikube start -p todo-chatbot"
        ]
    );
}

#[test]
fn current_cluster_pushes_to_the_registry() {
    let options = DeployOptions {
        cluster: ClusterTarget::Current,
        registry: Some("localhost:5000".into()),
        ..DeployOptions::default()
    };
    options.validate().unwrap();
    let nix_manifest =
        ImageManifest::parse(&MANIFEST.replace("target/images/", ""), "result").unwrap();
    let facts = DeployFacts {
        preflight: tools(
            &[
                (Tool::Helm, HELM_V3),
                (Tool::Kubectl, Version::new(1, 35, 2)),
                (Tool::Skopeo, Version::new(1, 9, 3)),
            ],
            &[ToolCheck::ok(Tool::Nix, Version::new(2, 31, 2))],
        ),
        profile: ProfileState::Unknown,
        addons: None,
        current_context: Some("kind-dev".into()),
        manifest: Some(nix_manifest),
        present: present(&["localhost:5000/todo-api:3f9a2c1d0b7e"]),
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let plan = deploy_plan(&options, &facts);
    assert_eq!(
        plan.descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0, skopeo >= 1.9.0: ok",
            "skip: --cluster current: using kubeconfig context kind-dev",
            "skip: images: Nix (nix 2.31.2 >= 2.31.2; `--images native` builds without it)",
            "$ nix --extra-experimental-features 'nix-command flakes' build .#images",
            "skip: localhost:5000/todo-api:3f9a2c1d0b7e is already in the registry: not pushing it again",
            "$ skopeo copy --all --dest-tls-verify=false oci-archive:result/todo-mcp.oci.tar docker://localhost:5000/todo-mcp:8d41be07aa19",
            "$ skopeo copy --all --dest-tls-verify=false oci-archive:result/todo-web.oci.tar docker://localhost:5000/todo-web:c02e6f5a9d13",
            "$ skopeo inspect --tls-verify=false docker://localhost:5000/todo-api:3f9a2c1d0b7e",
            "$ skopeo inspect --tls-verify=false docker://localhost:5000/todo-mcp:8d41be07aa19",
            "$ skopeo inspect --tls-verify=false docker://localhost:5000/todo-web:c02e6f5a9d13",
            "skip: LLM_API_KEY is not set: no LLM key Secret, the built-in chat engine answers",
            "$ helm upgrade --install todo helm/todo --namespace todo --create-namespace --atomic --wait --timeout 10m \
             -f helm/todo/values-dev.yaml --set api.image.tag=3f9a2c1d0b7e --set mcp.image.tag=8d41be07aa19 \
             --set web.image.tag=c02e6f5a9d13 --set image.registry=localhost:5000",
            WAIT,
            "kube-rs: list Ingresses in todo; print http://<host> for each Ingress host, or `kubectl port-forward -n todo \
             svc/todo-web 8080:8080`",
            "$ cargo xtask smoke --namespace todo",
        ]
    );
}

#[test]
fn remote_registry_uses_tls_and_native_build() {
    let options = DeployOptions {
        cluster: ClusterTarget::Current,
        registry: Some("registry.example.com/team".into()),
        images: ImagesMode::Native,
        ..DeployOptions::default()
    };
    let facts = DeployFacts {
        preflight: tools(
            &[
                (Tool::Helm, HELM_V3),
                (Tool::Kubectl, Version::new(1, 35, 2)),
                (Tool::Skopeo, Version::new(1, 9, 3)),
            ],
            &[],
        ),
        profile: ProfileState::Unknown,
        addons: None,
        current_context: Some("prod".into()),
        manifest: Some(manifest()),
        present: PresentImages::Unknown,
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let steps = deploy_plan(&options, &facts).descriptions();
    assert_eq!(steps[2], "$ cargo xtask images");
    assert_eq!(
        steps[3],
        "$ skopeo copy --all oci-archive:target/images/todo-api.oci.tar docker://registry.example.com/team/todo-api:3f9a2c1d0b7e"
    );
    assert_eq!(
        steps[6],
        "$ skopeo inspect docker://registry.example.com/team/todo-api:3f9a2c1d0b7e"
    );
    assert!(steps[10].ends_with(
        "--set web.image.tag=c02e6f5a9d13 --set image.registry=registry.example.com/team"
    ));
}

#[test]
fn dry_run_on_a_bare_machine_still_prints_the_plan() {
    // No minikube, no helm, no driver, nothing built: preflight would fail, the plan is shown.
    let facts = DeployFacts {
        preflight: Preflight {
            required: vec![
                missing(Tool::Minikube),
                missing(Tool::Helm),
                ToolCheck::ok(Tool::Kubectl, Version::new(1, 32, 4)),
            ],
            optional: vec![missing(Tool::Nix)],
            driver: DriverCheck::NotFound {
                tried: vec![
                    "docker: not on PATH".into(),
                    "podman: not on PATH".into(),
                    "virsh: not on PATH".into(),
                ],
            },
            other_problems: Vec::new(),
        },
        profile: ProfileState::Unknown,
        addons: None,
        current_context: None,
        manifest: None,
        present: PresentImages::Unknown,
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let plan = deploy_plan(&DeployOptions::default(), &facts);
    let steps = plan.descriptions();
    assert_eq!(steps.len(), 17);
    assert!(steps[0].starts_with("check minikube >= 1.33.0, helm >= 3.16.0, kubectl >= 1.28.0, a minikube driver (docker, podman or kvm2): WOULD FAIL:\n"));
    assert_eq!(plan.problems().len(), 3);
    assert_eq!(
        steps[1],
        "$ minikube start -p todo-chatbot --cpus 2 --memory 4096"
    );
    assert_eq!(
        steps[4],
        "skip: images: native builder (`cargo xtask images`): Nix not found"
    );
    assert_eq!(
        steps[7],
        "$ minikube -p todo-chatbot image load target/images/todo-api-amd64.oci.tar"
    );
    assert_eq!(
        steps[10],
        "$ minikube -p todo-chatbot image ls  # must list todo-api:<tag>, todo-mcp:<tag>, todo-web:<tag>"
    );
    assert!(
        steps[12].contains(
            "--set api.image.tag=<tag> --set mcp.image.tag=<tag> --set web.image.tag=<tag>"
        )
    );
    let text = plan.render();
    assert!(text.contains("minikube: not found on PATH"));
    assert!(text.contains("images: target/images/manifest.json not built yet"));
    assert!(text.contains(
        "A real run would stop at preflight (3 problem(s) above) before changing anything."
    ));
}

#[test]
fn invalid_option_combinations() {
    let current = DeployOptions {
        cluster: ClusterTarget::Current,
        ..DeployOptions::default()
    };
    let error = current.validate().unwrap_err().to_string();
    assert!(
        error.starts_with("--cluster current needs --registry HOST[:PORT]"),
        "{error}"
    );
    let bad_set = DeployOptions {
        sets: vec!["api.replicas".into()],
        ..DeployOptions::default()
    };
    assert_eq!(
        bad_set.validate().unwrap_err().to_string(),
        "--set api.replicas: expected KEY=VALUE, e.g. --set api.replicaCount=2"
    );
    let scheme = DeployOptions {
        registry: Some("https://r.example".into()),
        ..DeployOptions::default()
    };
    assert!(scheme.validate().is_err());
    assert!(DeployOptions::default().validate().is_ok());
}

fn teardown_facts(profile: ProfileState, context: &str, minikube: bool) -> TeardownFacts {
    let mut preflight = tools(
        &[
            (Tool::Helm, HELM_V3),
            (Tool::Kubectl, Version::new(1, 32, 4)),
        ],
        &[],
    );
    preflight.optional = vec![if minikube {
        ToolCheck::ok(Tool::Minikube, Version::new(1, 34, 0))
    } else {
        missing(Tool::Minikube)
    }];
    TeardownFacts {
        preflight,
        profile,
        current_context: Some(context.into()),
    }
}

const KEPT: &str = "skip: keeps namespace todo with the database's PVC and Secret (the next deploy finds the same data and password); `cargo xtask teardown --purge` deletes them";

/// Plain teardown: `helm uninstall` only (the chart's Secret is `resource-policy: keep`, the
/// StatefulSet's PVC is never helm's), nothing deleted by kubectl, the kept objects listed;
/// on the deploy profile's context although another one is current.
#[test]
fn teardown_keeps_data_and_targets_the_deploy_profile() {
    let plan = teardown_plan(
        &TeardownOptions::default(),
        &teardown_facts(ProfileState::Running, "kind-other", true),
    );
    assert_eq!(
        plan.descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: targets kubeconfig context todo-chatbot",
            "$ helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            KEPT,
            "$ kubectl --context todo-chatbot get pvc,secret --namespace todo -l app.kubernetes.io/instance=todo",
        ]
    );
    assert_eq!(plan.title, "cargo xtask teardown");
    // Nothing in a plain teardown deletes anything but the release.
    for step in plan.descriptions() {
        assert!(
            !step.contains(" delete ") && !step.contains("minikube"),
            "{step}"
        );
    }
}

#[test]
fn teardown_purge_deletes_pvc_secret_namespace_and_the_profile() {
    let options = TeardownOptions {
        purge: true,
        ..TeardownOptions::default()
    };
    let plan = teardown_plan(
        &options,
        &teardown_facts(ProfileState::Running, "todo-chatbot", true),
    );
    assert_eq!(
        plan.descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: targets kubeconfig context todo-chatbot",
            "$ helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            "$ kubectl --context todo-chatbot delete pvc,secret --namespace todo -l app.kubernetes.io/instance=todo --ignore-not-found --wait",
            "$ kubectl --context todo-chatbot delete namespace todo --ignore-not-found --wait",
            "$ minikube delete -p todo-chatbot",
        ]
    );
    assert_eq!(plan.title, "cargo xtask teardown --purge");
}

#[test]
fn teardown_of_a_stopped_or_missing_profile() {
    let stopped = teardown_facts(ProfileState::Stopped, "kind-other", true);
    let options = TeardownOptions {
        purge: true,
        profile: "demo".into(),
        ..TeardownOptions::default()
    };
    assert_eq!(
        teardown_plan(&options, &stopped).descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: targets kubeconfig context demo",
            "skip: minikube profile demo is not running: nothing to uninstall from it (`minikube delete` removes its data)",
            "$ minikube delete -p demo",
        ]
    );
    // Without --purge a stopped profile is left alone, and the user is told both ways on.
    let keep = TeardownOptions {
        purge: false,
        ..options.clone()
    };
    assert_eq!(
        teardown_plan(&keep, &stopped).descriptions()[2..],
        [
            "skip: minikube profile demo is not running: nothing is changed; `minikube start -p demo` and re-run to uninstall, or `--purge` to delete the profile and its data"
        ]
    );
    // No profile at all: nothing to do, and never a fall-back to the current context.
    let absent = teardown_facts(ProfileState::Absent, "kind-other", true);
    assert_eq!(
        teardown_plan(&options, &absent).descriptions()[2..],
        [
            "skip: minikube profile demo does not exist: nothing to uninstall (for another cluster: --cluster current)",
            "skip: minikube profile demo does not exist: nothing to delete",
        ]
    );
    let no_minikube = teardown_facts(ProfileState::Unknown, "kind-other", false);
    assert_eq!(
        teardown_plan(&keep, &no_minikube).descriptions()[2..],
        [
            "skip: minikube not found: there is no profile demo to tear down here (for another cluster: --cluster current)"
        ]
    );
}

/// `--cluster current`: the current context, no `--context` flags, and --purge deletes no
/// minikube profile.
#[test]
fn teardown_of_the_current_cluster() {
    let options = TeardownOptions {
        cluster: ClusterTarget::Current,
        ..TeardownOptions::default()
    };
    let facts = teardown_facts(ProfileState::Unknown, "kind-dev", false);
    assert_eq!(
        teardown_plan(&options, &facts).descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: targets kubeconfig context kind-dev",
            "$ helm uninstall todo --namespace todo --ignore-not-found --wait",
            KEPT,
            "$ kubectl get pvc,secret --namespace todo -l app.kubernetes.io/instance=todo",
        ]
    );
    let purge = TeardownOptions {
        purge: true,
        ..options
    };
    let plan = teardown_plan(&purge, &facts);
    assert_eq!(plan.title, "cargo xtask teardown --purge --cluster current");
    assert_eq!(
        plan.descriptions()[2..],
        [
            "$ helm uninstall todo --namespace todo --ignore-not-found --wait",
            "$ kubectl delete pvc,secret --namespace todo -l app.kubernetes.io/instance=todo --ignore-not-found --wait",
            "$ kubectl delete namespace todo --ignore-not-found --wait",
        ]
    );
}

#[test]
fn a_missing_current_context_stops_current_cluster_plans() {
    let options = DeployOptions {
        cluster: ClusterTarget::Current,
        registry: Some("localhost:5000".into()),
        ..DeployOptions::default()
    };
    let facts = DeployFacts {
        preflight: tools(
            &[
                (Tool::Helm, HELM_V3),
                (Tool::Kubectl, Version::new(1, 35, 2)),
                (Tool::Skopeo, Version::new(1, 9, 3)),
            ],
            &[],
        ),
        profile: ProfileState::Unknown,
        addons: None,
        current_context: None,
        manifest: None,
        present: PresentImages::Unknown,
        llm_api_key_set: false,
        node_architectures: BTreeSet::new(),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    assert_eq!(
        deploy_plan(&options, &facts).problems(),
        [
            "--cluster current: the kubeconfig has no current context; pick one with `kubectl config use-context NAME`"
        ]
    );
    let mut teardown = teardown_facts(ProfileState::Unknown, "x", false);
    teardown.current_context = None;
    let current = TeardownOptions {
        cluster: ClusterTarget::Current,
        ..TeardownOptions::default()
    };
    assert_eq!(
        teardown_plan(&current, &teardown).problems(),
        [
            "--cluster current: the kubeconfig has no current context; pick one with `kubectl config use-context NAME` (or tear down the minikube profile: drop --cluster current)"
        ]
    );
    // The default targets the profile's context, whatever the current one is (or none).
    assert!(
        teardown_plan(&TeardownOptions::default(), &teardown)
            .problems()
            .is_empty()
    );
}

/// `--images auto` builds with Nix only where the flake can build images, and says why.
#[test]
fn auto_picks_nix_only_where_it_can_build_the_images() {
    use deploy_plan::deploy::images_choice;
    use deploy_plan::preflight::ToolState;
    use std::path::PathBuf;
    let nix = |state: ToolState| ToolCheck {
        tool: Tool::Nix,
        state,
    };
    let ok = nix(ToolState::Ok {
        path: PathBuf::from("/nix/var/nix/profiles/default/bin/nix"),
        version: Version::new(2, 31, 2),
    });
    let (uses, why) = images_choice(ImagesMode::Auto, Some(&ok), "linux");
    assert!(uses, "{why}");
    assert!(why.contains("nix 2.31.2 >= 2.31.2"), "{why}");

    // Debian's nix-bin 2.8: older than the pinned crane supports.
    let old = nix(ToolState::TooOld {
        path: PathBuf::from("/usr/bin/nix"),
        version: Version::new(2, 8, 0),
    });
    let (uses, why) = images_choice(ImagesMode::Auto, Some(&old), "linux");
    assert!(!uses);
    assert!(
        why.contains("nix 2.8.0 is older than 2.31.2, the oldest the pinned crane supports"),
        "{why}"
    );

    // A Mac: the flake has no image packages for darwin.
    let (uses, why) = images_choice(ImagesMode::Auto, Some(&ok), "macos");
    assert!(!uses);
    assert!(
        why.contains("on macos") && why.contains("--images nix"),
        "{why}"
    );

    let (uses, why) = images_choice(ImagesMode::Auto, Some(&nix(ToolState::Missing)), "linux");
    assert!(!uses);
    assert!(why.ends_with("Nix not found"), "{why}");
    let broken = nix(ToolState::Unusable {
        path: PathBuf::from("/bin/nix"),
        detail: "exit status 1".into(),
    });
    assert!(!images_choice(ImagesMode::Auto, Some(&broken), "linux").0);

    // Explicit choices are taken as given.
    assert!(images_choice(ImagesMode::Nix, None, "macos").0);
    assert!(!images_choice(ImagesMode::Native, Some(&ok), "linux").0);
}

/// The node's architecture picks the archive: asked from the cluster, overridden by
/// --platform; an image not built for it stops the plan with what to run.
#[test]
fn the_nodes_architecture_picks_the_archive_to_load() {
    let facts = |nodes: &[&str], host: &str, manifest: ImageManifest| DeployFacts {
        preflight: minikube_tools(HELM_V4),
        profile: ProfileState::Running,
        addons: Some(BTreeSet::from([
            "ingress".to_string(),
            "metrics-server".to_string(),
        ])),
        current_context: Some("todo-chatbot".into()),
        manifest: Some(manifest),
        present: PresentImages::Known(BTreeSet::new()),
        llm_api_key_set: false,
        node_architectures: nodes.iter().map(|n| n.to_string()).collect(),
        host_architecture: host.into(),
        host_os: "linux".into(),
        minikube_driver: None,
    };
    let loads = |options: &DeployOptions, facts: &DeployFacts| -> Vec<String> {
        deploy_plan(options, facts)
            .descriptions()
            .into_iter()
            .filter(|d| d.contains("image load") || d.starts_with("skip: images for"))
            .collect()
    };
    let options = DeployOptions::default();

    // An amd64 cluster from an arm64 laptop: the cluster's answer wins over the host.
    assert_eq!(
        loads(&options, &facts(&["amd64"], "arm64", manifest())),
        [
            "skip: images for linux/amd64: the cluster's nodes are linux/amd64",
            "$ minikube -p todo-chatbot image load target/images/todo-api-amd64.oci.tar",
            "$ minikube -p todo-chatbot image load target/images/todo-mcp-amd64.oci.tar",
            "$ minikube -p todo-chatbot image load target/images/todo-web-amd64.oci.tar",
        ]
    );
    // arm64 nodes.
    assert_eq!(
        loads(&options, &facts(&["arm64"], "amd64", manifest()))[1],
        "$ minikube -p todo-chatbot image load target/images/todo-api-arm64.oci.tar"
    );
    // Nix's manifest: paths under result/.
    let nix = ImageManifest::parse(&MANIFEST.replace("target/images/", ""), "result").unwrap();
    assert_eq!(
        loads(&options, &facts(&["arm64"], "amd64", nix))[1],
        "$ minikube -p todo-chatbot image load result/todo-api-arm64.oci.tar"
    );
    // --platform overrides what the nodes say.
    let forced = DeployOptions {
        platform: Some("linux/arm64".into()),
        ..DeployOptions::default()
    };
    assert_eq!(
        loads(&forced, &facts(&["amd64"], "amd64", manifest()))[0],
        "skip: images for linux/arm64: --platform linux/arm64"
    );
    // Mixed nodes: the first, and a hint.
    assert!(
        loads(&options, &facts(&["amd64", "arm64"], "amd64", manifest()))[0]
            .contains("linux/amd64 and linux/arm64: loading linux/amd64 (pass --platform")
    );
    // A manifest from an amd64-only build on an arm64 node: the plan refuses, saying what to run.
    let mut json: serde_json::Value = serde_json::from_str(MANIFEST).unwrap();
    for image in json["images"].as_array_mut().unwrap() {
        image["platforms"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p["architecture"] == "amd64");
    }
    let amd64_only = ImageManifest::parse(&json.to_string(), "").unwrap();
    assert!(amd64_only.images.iter().all(|i| i.platforms.len() == 1));
    let plan = deploy_plan(&options, &facts(&["arm64"], "amd64", amd64_only));
    let problems = plan.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].contains("todo-api:3f9a2c1d0b7e was not built for linux/arm64")
            && problems[0].contains("cargo xtask images --platform linux/arm64"),
        "{problems:?}"
    );
    // A manifest from before multi-platform images: its one archive.
    let old = ImageManifest::parse(
        r#"{"images":[{"service":"todo-api","name":"todo-api","tag":"1","reference":"todo-api:1","archive":"target/images/todo-api.oci.tar"}]}"#,
        "",
    )
    .unwrap();
    assert_eq!(
        loads(&options, &facts(&["arm64"], "amd64", old))[1],
        "$ minikube -p todo-chatbot image load target/images/todo-api.oci.tar"
    );
    // A bad --platform is refused before anything runs.
    let bad = DeployOptions {
        platform: Some("linux/riscv64".into()),
        ..DeployOptions::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("linux/amd64 and linux/arm64")
    );
}

fn running_profile_facts(llm_api_key_set: bool) -> DeployFacts {
    DeployFacts {
        preflight: minikube_tools(HELM_V3),
        profile: ProfileState::Running,
        addons: Some(BTreeSet::from([
            "ingress".to_string(),
            "metrics-server".to_string(),
        ])),
        current_context: Some("todo-chatbot".into()),
        manifest: Some(manifest()),
        present: present(&[
            "todo-api:3f9a2c1d0b7e",
            "todo-mcp:8d41be07aa19",
            "todo-web:c02e6f5a9d13",
        ]),
        llm_api_key_set,
        node_architectures: BTreeSet::from(["amd64".to_string()]),
        host_architecture: "amd64".into(),
        host_os: "linux".into(),
        minikube_driver: None,
    }
}

const KAGENT_NAMESPACE: &str = "$ kubectl --context todo-chatbot create namespace kagent --dry-run=client -o yaml | \
                                kubectl --context todo-chatbot apply -f -";
const KAGENT_SECRET: &str = "$ kubectl --context todo-chatbot create secret generic todo-llm-api-key --namespace kagent \
                             --from-literal=api-key=<redacted> --dry-run=client -o yaml | kubectl --context todo-chatbot \
                             apply -f -  # value read from $LLM_API_KEY, never printed";
const KAGENT_CRDS: &str = "$ helm --kube-context todo-chatbot upgrade --install kagent-crds \
                           oci://ghcr.io/kagent-dev/kagent/helm/kagent-crds --version 0.10.1 --namespace kagent --wait --timeout 10m";

/// `--with-kagent`: after the release is up and smoke-tested, kagent's namespace, its copy of
/// the release's LLM key Secret, the CRDs chart and the kagent chart pointed at that Secret and
/// at the chat's model and endpoint.
#[test]
fn with_kagent_installs_its_charts_with_the_llm_key_after_the_release() {
    let options = DeployOptions {
        kagent: Some(deploy_plan::KagentOptions {
            model: Some("llama-3.3-70b".into()),
            base_url: Some("https://api.groq.com/openai/v1".into()),
        }),
        ..DeployOptions::default()
    };
    let plan = deploy_plan(&options, &running_profile_facts(true));
    let steps = plan.descriptions();
    assert_eq!(
        steps[0],
        "check minikube >= 1.33.0, helm >= 3.16.0, kubectl >= 1.28.0, LLM_API_KEY for --with-kagent: ok"
    );
    let smoke = steps
        .iter()
        .position(|s| s == "$ cargo xtask smoke --namespace todo")
        .unwrap();
    assert_eq!(
        steps[smoke + 1..],
        [
            KAGENT_NAMESPACE.to_string(),
            KAGENT_SECRET.to_string(),
            KAGENT_CRDS.to_string(),
            "$ helm --kube-context todo-chatbot upgrade --install kagent oci://ghcr.io/kagent-dev/kagent/helm/kagent \
             --version 0.10.1 --namespace kagent --wait --timeout 10m --set providers.default=openAI \
             --set providers.openAI.apiKeySecretRef=todo-llm-api-key --set providers.openAI.apiKeySecretKey=api-key \
             --set-string providers.openAI.model=llama-3.3-70b \
             --set-string providers.openAI.config.baseUrl=https://api.groq.com/openai/v1"
                .to_string(),
        ]
    );
    for step in &plan.steps[smoke + 1..] {
        assert_eq!(step.phase.label(), "kagent");
    }
    // The release's own steps are those of a plain deploy.
    let plain = deploy_plan(&DeployOptions::default(), &running_profile_facts(true));
    assert_eq!(steps[1..=smoke], plain.descriptions()[1..]);
    assert!(plain.descriptions().iter().all(|s| !s.contains("kagent")));
    let text = plan.render();
    assert!(
        text.contains("kagent: charts 0.10.1 into namespace kagent, model llama-3.3-70b at https://api.groq.com/openai/v1"),
        "{text}"
    );
    assert!(
        text.contains("[kagent] $ helm --kube-context todo-chatbot upgrade --install kagent-crds")
    );
    assert!(!text.contains("LLM_API_KEY=") || text.contains("<redacted>"));

    // Without the chat's model settings, the chart's OpenAI default.
    let defaults = DeployOptions {
        kagent: Some(deploy_plan::KagentOptions::from_vars(|_| None)),
        ..DeployOptions::default()
    };
    let last = deploy_plan(&defaults, &running_profile_facts(true))
        .descriptions()
        .pop()
        .unwrap();
    assert!(
        last.ends_with("--set providers.openAI.apiKeySecretKey=api-key"),
        "{last}"
    );
}

#[test]
fn with_kagent_needs_the_llm_key() {
    let options = DeployOptions {
        kagent: Some(deploy_plan::KagentOptions::default()),
        ..DeployOptions::default()
    };
    let plan = deploy_plan(&options, &running_profile_facts(false));
    assert_eq!(
        plan.problems(),
        [
            "--with-kagent: kagent's agents call the LLM with the key from LLM_API_KEY; set it \
          (`export LLM_API_KEY=...`), or drop --with-kagent"
        ]
    );
    assert!(
        plan.render()
            .contains("A real run would stop at preflight (1 problem(s) above)")
    );
}

#[test]
fn teardown_with_kagent_removes_its_releases_and_with_purge_its_namespace() {
    let options = TeardownOptions {
        kagent: true,
        ..TeardownOptions::default()
    };
    let plan = teardown_plan(
        &options,
        &teardown_facts(ProfileState::Running, "todo-chatbot", true),
    );
    assert_eq!(plan.title, "cargo xtask teardown --with-kagent");
    assert_eq!(
        plan.descriptions(),
        [
            "check helm >= 3.16.0, kubectl >= 1.28.0: ok",
            "skip: targets kubeconfig context todo-chatbot",
            "$ helm --kube-context todo-chatbot uninstall todo --namespace todo --ignore-not-found --wait",
            KEPT,
            "$ kubectl --context todo-chatbot get pvc,secret --namespace todo -l app.kubernetes.io/instance=todo",
            "$ helm --kube-context todo-chatbot uninstall kagent --namespace kagent --ignore-not-found --wait",
            "$ helm --kube-context todo-chatbot uninstall kagent-crds --namespace kagent --ignore-not-found --wait",
            "skip: keeps namespace kagent with its copy of the LLM key Secret todo-llm-api-key; `--purge` deletes it",
        ]
    );

    let purge = TeardownOptions {
        purge: true,
        kagent: true,
        ..TeardownOptions::default()
    };
    let plan = teardown_plan(
        &purge,
        &teardown_facts(ProfileState::Running, "todo-chatbot", true),
    );
    assert_eq!(plan.title, "cargo xtask teardown --purge --with-kagent");
    assert_eq!(
        plan.descriptions()[5..],
        [
            "$ helm --kube-context todo-chatbot uninstall kagent --namespace kagent --ignore-not-found --wait",
            "$ helm --kube-context todo-chatbot uninstall kagent-crds --namespace kagent --ignore-not-found --wait",
            "$ kubectl --context todo-chatbot delete namespace kagent --ignore-not-found --wait",
            "$ minikube delete -p todo-chatbot",
        ]
    );

    // A stopped profile: nothing to talk to, so no kagent steps either.
    let stopped = teardown_plan(
        &options,
        &teardown_facts(ProfileState::Stopped, "todo-chatbot", true),
    );
    assert!(
        stopped.descriptions().iter().all(|s| !s.contains("kagent")),
        "{:?}",
        stopped.descriptions()
    );
}
