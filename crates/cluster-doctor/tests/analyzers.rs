//! Every analyzer on YAML fixtures of real-shaped objects (as `kubectl get -o yaml` prints them).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use cluster_client::{ContainerKey, Snapshot};
use cluster_doctor::analyzers::{self, ALL};
use cluster_doctor::{Finding, analyze, render_findings};

fn fixture(name: &str) -> Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Snapshot::from_yaml("todo", &text).unwrap()
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn fired(findings: &[Finding]) -> BTreeSet<&'static str> {
    findings.iter().map(|f| f.analyzer).collect()
}

fn objects(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(|f| f.object.to_string()).collect()
}

#[test]
fn healthy_namespace_has_no_finding() {
    let snapshot = fixture("healthy.yaml");
    // The fixture really holds a whole release, so "no finding" means something.
    assert_eq!(snapshot.deployments.len(), 3);
    assert_eq!(snapshot.stateful_sets.len(), 1);
    assert_eq!(snapshot.pods.len(), 5);
    assert_eq!(snapshot.services.len(), 5);
    assert_eq!(snapshot.endpoint_slices.len(), 5);
    assert_eq!(snapshot.ingresses.len(), 1);
    assert_eq!(snapshot.hpas.len(), 1);
    assert_eq!(snapshot.pvcs.len(), 1);
    assert_eq!(snapshot.events.len(), 3);
    assert_eq!(snapshot.ingress_classes.as_ref().map(Vec::len), Some(1));
    assert_eq!(snapshot.storage_classes.as_ref().map(Vec::len), Some(1));
    let findings = analyze(&snapshot);
    assert!(findings.is_empty(), "{}", render_findings(&findings));
    assert_eq!(render_findings(&findings), "No problems found.");
}

#[test]
fn every_analyzer_is_registered_once() {
    let names: BTreeSet<&str> = ALL.iter().map(|(name, _)| *name).collect();
    assert_eq!(names.len(), ALL.len());
    assert_eq!(names.len(), 11);
}

#[test]
fn crash_loop_reports_last_exit_and_log_tail() {
    let mut snapshot = fixture("crashloop.yaml");
    snapshot.logs.insert(
        ContainerKey::new("todo-api-7c9d8b6f4-x2x7q", "api"),
        fixture_text("crashloop.todo-api.log"),
    );
    let findings = analyzers::crash_loop(&snapshot);
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(
        finding.object.to_string(),
        "Pod todo/todo-api-7c9d8b6f4-x2x7q"
    );
    assert_eq!(finding.problem, "container api is crash-looping");
    assert_eq!(finding.evidence[0], "container api restarted 5 time(s)");
    assert_eq!(
        finding.evidence[1],
        "last exit: reason Error, exit code 1 at 2026-11-02T10:04:12Z"
    );
    assert!(
        finding.evidence[2].starts_with(
            "waiting: CrashLoopBackOff: back-off 2m40s restarting failed container=api"
        )
    );
    assert!(finding.evidence[3].starts_with("log tail (previous run):\n"));
    assert!(finding.evidence[3].contains("password authentication failed for user"));
    assert!(
        finding
            .suggestion
            .contains("cannot reach or log in to its database"),
        "{}",
        finding.suggestion
    );
    assert!(
        finding
            .suggestion
            .contains("kubectl logs -n todo todo-api-7c9d8b6f4-x2x7q -c api --previous")
    );
    // The whole namespace: the crash also leaves the Deployment unready, nothing else fires.
    assert_eq!(
        fired(&analyze(&snapshot)),
        BTreeSet::from(["crash-loop", "unready-workload"])
    );
}

#[test]
fn crash_loop_on_exhausted_connections_points_at_the_pool_size() {
    let mut snapshot = fixture("crashloop.yaml");
    snapshot.logs.insert(
        ContainerKey::new("todo-api-7c9d8b6f4-x2x7q", "api"),
        "todo-api: error returned from database: sorry, too many clients already\n".to_owned(),
    );
    let findings = analyzers::crash_loop(&snapshot);
    assert_eq!(findings.len(), 1);
    let suggestion = &findings[0].suggestion;
    assert!(
        suggestion.contains("no connection slots left")
            && suggestion.contains("database.poolSize")
            && suggestion.contains("postgresql.maxConnections"),
        "{suggestion}"
    );
}

#[test]
fn crash_loop_without_logs_still_points_at_kubectl_logs() {
    let snapshot = fixture("crashloop.yaml");
    let findings = analyzers::crash_loop(&snapshot);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].evidence.len(),
        3,
        "no log tail line without a log"
    );
    assert!(
        findings[0]
            .suggestion
            .starts_with("Read the full log with `kubectl logs -n todo")
    );
}

#[test]
fn image_pull_gives_loading_hint_and_tag_mismatch() {
    let mut snapshot = fixture("image-pull.yaml");
    snapshot.built_images = vec![
        "todo-web:4567ffff0000".to_string(),
        "todo-api:3f9a2c1d0b7e".to_string(),
    ];
    let findings = analyzers::image_pull(&snapshot);
    assert_eq!(
        objects(&findings),
        [
            "Pod todo/todo-web-6c7d8e9f0-h5j6k",
            "Pod todo/todo-mcp-5b8f9d7c6-q8w2n"
        ]
    );

    let web = &findings[0];
    assert_eq!(
        web.problem,
        "container web cannot get its image (ErrImageNeverPull)"
    );
    assert_eq!(
        web.evidence[0],
        "container web: image todo-web:0123abcd4567, imagePullPolicy Never"
    );
    assert_eq!(
        web.evidence[1],
        "waiting: ErrImageNeverPull: Container image \"todo-web:0123abcd4567\" is not present with pull policy of Never"
    );
    assert!(
        web.evidence
            .contains(&"the last local build produced todo-web:4567ffff0000".to_string())
    );
    assert!(web.suggestion.starts_with("Tag mismatch: the pod wants todo-web:0123abcd4567 but the last build produced todo-web:4567ffff0000"));
    assert!(
        web.suggestion
            .contains("minikube -p <profile> image load target/images/todo-web.oci.tar")
    );

    let mcp = &findings[1];
    assert_eq!(
        mcp.problem,
        "container mcp cannot get its image (ImagePullBackOff)"
    );
    assert!(mcp.evidence.iter().any(|e| {
        e.starts_with("event Failed: Failed to pull image \"ghcr.io/example/todo-mcp:1.2.3\"")
    }));
    assert!(
        mcp.suggestion
            .contains("skopeo inspect docker://ghcr.io/example/todo-mcp:1.2.3")
    );
    assert!(!mcp.suggestion.contains("Tag mismatch"));
}

#[test]
fn oom_killed_names_the_limit_and_the_value_to_raise() {
    let snapshot = fixture("oom.yaml");
    let findings = analyzers::oom_killed(&snapshot);
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(
        finding.object.to_string(),
        "Pod todo/todo-mcp-5b8f9d7c6-q8w2n"
    );
    assert_eq!(
        finding.problem,
        "container mcp was killed for running out of memory"
    );
    assert_eq!(
        finding.evidence,
        [
            "container mcp: OOMKilled, exit code 137, restarted 4 time(s)",
            "memory limit: 64Mi"
        ]
    );
    assert!(finding.suggestion.contains("(now 64Mi)"));
    assert!(
        finding
            .suggestion
            .contains("--set mcp.resources.limits.memory=")
    );
    // OOM is the cause; the crash-loop analyzer leaves it to this one.
    assert!(analyzers::crash_loop(&snapshot).is_empty());
    assert_eq!(fired(&analyze(&snapshot)), BTreeSet::from(["oom-killed"]));
}

#[test]
fn unschedulable_pod_gets_the_schedulers_reason() {
    let snapshot = fixture("unschedulable.yaml");
    let findings = analyzers::unschedulable(&snapshot);
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding.object.to_string(), "Pod todo/todo-postgresql-0");
    assert_eq!(finding.problem, "cannot be scheduled");
    assert_eq!(
        finding.evidence,
        [
            "condition PodScheduled=False, reason Unschedulable: 0/1 nodes are available: 1 Insufficient memory. \
          preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        ]
    );
    assert!(
        finding
            .suggestion
            .contains("cargo xtask deploy --cpus 4 --memory 8192")
    );
}

#[test]
fn failing_probes_only_on_unready_pods() {
    let snapshot = fixture("probes.yaml");
    let findings = analyzers::failing_probes(&snapshot);
    // todo-web failed probes while starting but is ready now: not reported.
    assert_eq!(objects(&findings), ["Pod todo/todo-api-7c9d8b6f4-x2x7q"]);
    let finding = &findings[0];
    assert_eq!(finding.problem, "Readiness probe failing, pod not ready");
    assert_eq!(
        finding.evidence,
        [
            "container api: Readiness probe failed: Get \"http://10.244.0.12:8080/readyz\": dial tcp 10.244.0.12:8080: \
             connect: connection refused (x2)",
            "container api: Readiness probe failed: HTTP probe failed with statuscode: 503 (x14)",
        ]
    );
    assert!(
        finding
            .suggestion
            .starts_with("The probe endpoint answers 503"),
        "the newest failure decides"
    );
    assert_eq!(
        fired(&analyze(&snapshot)),
        BTreeSet::from(["failing-probes", "unready-workload"])
    );
}

#[test]
fn container_config_error_names_the_missing_secret_or_key() {
    let snapshot = fixture("config-error.yaml");
    let findings = analyzers::container_config(&snapshot);
    assert_eq!(
        objects(&findings),
        [
            "Pod todo/todo-api-7c9d8b6f4-x2x7q",
            "Pod todo/todo-mcp-5b8f9d7c6-q8w2n"
        ]
    );
    assert_eq!(
        findings[0].problem,
        "container api cannot be created (CreateContainerConfigError)"
    );
    assert_eq!(
        findings[0].evidence,
        ["waiting: CreateContainerConfigError: secret \"todo-llm-api-key\" not found"]
    );
    assert!(
        findings[0]
            .suggestion
            .contains("Export LLM_API_KEY and re-run `cargo xtask deploy`")
    );
    assert_eq!(
        findings[1].evidence,
        [
            "waiting: CreateContainerConfigError: couldn't find key jwt-secret in Secret todo/todo-auth"
        ]
    );
    assert!(
        findings[1]
            .suggestion
            .starts_with("Secret todo-auth has no key `jwt-secret`")
    );
    assert!(
        findings[1]
            .suggestion
            .contains("kubectl get secret -n todo todo-auth -o jsonpath='{.data}'")
    );
}

#[test]
fn unready_workloads_with_their_reasons() {
    let snapshot = fixture("workloads.yaml");
    let findings = analyzers::unready_workloads(&snapshot);
    assert_eq!(
        objects(&findings),
        [
            "Deployment todo/todo-api",
            "Deployment todo/todo-web",
            "StatefulSet todo/todo-postgresql"
        ]
    );
    let api = &findings[0];
    assert_eq!(api.problem, "1/2 replicas ready");
    assert!(api.evidence.contains(
        &"rollout failed: ReplicaSet \"todo-api-6b5a4f3e2\" has timed out progressing.".to_string()
    ));
    assert!(api.evidence.contains(
        &"waiting for pod todo-api-6b5a4f3e2-z9y8x: container api: ImagePullBackOff: Back-off pulling image \
          \"todo-api:9e8d7c6b5a4f\""
            .to_string()
    ));
    assert!(api.suggestion.starts_with("The rollout gave up."));

    let web = &findings[1];
    assert_eq!(web.problem, "0/1 replicas ready");
    assert!(
        web.suggestion
            .contains("serviceaccount \"todo-web\" not found"),
        "{}",
        web.suggestion
    );

    let db = &findings[2];
    assert_eq!(db.problem, "0/1 replicas ready");
    assert_eq!(
        db.evidence,
        [
            "0/1 replicas ready",
            "rollout: waiting for 1 pods to be ready",
            "waiting for pod todo-postgresql-0: SchedulerError: running PreBind plugin \"VolumeBinding\": binding \
             volumes: context deadline exceeded",
        ]
    );
}

#[test]
fn services_without_ready_endpoints() {
    let snapshot = fixture("services.yaml");
    let findings = analyzers::services_without_endpoints(&snapshot);
    assert_eq!(
        objects(&findings),
        ["Service todo/todo-web", "Service todo/todo-api"]
    );
    let web = &findings[0];
    assert_eq!(web.problem, "no ready endpoint: requests to it fail");
    assert_eq!(
        web.evidence,
        [
            "selector app.kubernetes.io/component=frontend,app.kubernetes.io/instance=todo",
            "EndpointSlice todo-web-r2m4t: 0 ready of 0 endpoint(s)",
        ]
    );
    assert!(web.suggestion.starts_with("No pod carries these labels"));
    let api = &findings[1];
    assert_eq!(
        api.evidence[1],
        "EndpointSlice todo-api-8kq2d: 0 ready of 1 endpoint(s)"
    );
    assert_eq!(
        api.evidence[2],
        "pod todo-api-7c9d8b6f4-x2x7q not ready: container api running, not ready yet"
    );
    assert!(
        api.suggestion
            .starts_with("The pods behind it are not ready")
    );
}

#[test]
fn ingress_with_missing_class_backend_and_port() {
    let snapshot = fixture("ingress.yaml");
    let findings = analyzers::ingress_problems(&snapshot);
    let problems: Vec<&str> = findings.iter().map(|f| f.problem.as_str()).collect();
    assert_eq!(
        problems,
        [
            "IngressClass nginx does not exist",
            "backend port 80 is not a port of Service todo-api",
            "backend Service todo-wbe does not exist",
        ]
    );
    assert!(
        findings
            .iter()
            .all(|f| f.object.to_string() == "Ingress todo/todo")
    );
    assert_eq!(
        findings[0].evidence[1],
        "IngressClasses in the cluster: none"
    );
    assert!(findings[0].suggestion.contains("addons enable ingress"));
    assert_eq!(
        findings[1].evidence,
        [
            "route todo.local/api -> service todo-api port 80",
            "Service todo-api ports: http:8080"
        ]
    );
    assert_eq!(
        findings[2].evidence,
        ["route todo.local/ -> service todo-wbe"]
    );
}

#[test]
fn hpa_without_metrics_suggests_metrics_server() {
    let snapshot = fixture("hpa.yaml");
    let findings = analyzers::hpa_without_metrics(&snapshot);
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(
        finding.object.to_string(),
        "HorizontalPodAutoscaler todo/todo-api"
    );
    assert_eq!(finding.problem, "has no metrics, so it cannot scale");
    assert!(finding.evidence[0].starts_with(
        "condition ScalingActive=False, reason FailedGetResourceMetric: the HPA was unable"
    ));
    assert!(
        finding.evidence[1]
            .starts_with("event FailedGetResourceMetric (x40): failed to get cpu utilization")
    );
    assert!(
        finding
            .suggestion
            .contains("minikube addons enable metrics-server")
    );
}

#[test]
fn pending_pvc_with_unknown_storage_class() {
    let snapshot = fixture("pvc-pending.yaml");
    let findings = analyzers::pending_pvcs(&snapshot);
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(
        finding.object.to_string(),
        "PersistentVolumeClaim todo/data-todo-postgresql-0"
    );
    assert_eq!(
        finding.problem,
        "Pending: StorageClass fast-ssd does not exist"
    );
    assert_eq!(
        finding.evidence,
        [
            "storageClassName: fast-ssd",
            "event ProvisioningFailed (x12): storageclass.storage.k8s.io \"fast-ssd\" not found",
        ]
    );
    assert!(finding.suggestion.contains("kubectl get storageclass"));
}

#[test]
fn rendering_lists_object_evidence_and_fix() {
    let snapshot = fixture("oom.yaml");
    let text = render_findings(&analyze(&snapshot));
    assert_eq!(
        text,
        "1 problem(s) found:\n\n\
         1. Pod todo/todo-mcp-5b8f9d7c6-q8w2n: container mcp was killed for running out of memory\n    \
         - container mcp: OOMKilled, exit code 137, restarted 4 time(s)\n    \
         - memory limit: 64Mi\n    \
         fix: Raise the memory limit (now 64Mi) with `--set mcp.resources.limits.memory=...` (or the values file), \
         then re-run `cargo xtask deploy`; if usage keeps growing, look for a leak.\n"
    );
}

#[test]
fn yaml_errors_name_the_object_kind() {
    let error = Snapshot::from_yaml(
        "todo",
        "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: 3}\n",
    )
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("parsing a v1 Pod object"),
        "{error:#}"
    );
}
