//! What the rendered defaults give an operator: PostgreSQL's memory-backed /dev/shm and
//! pg_isready liveness, the backup CronJob from its values, the migrate init container's
//! bounded wait, the chat turn budget on api and web, production-shaped replicas and a
//! readiness probe that outlasts a short database blip.

#![allow(clippy::unwrap_used)]

use chart_policy::objects::{Object, Rendered};
use chart_policy::tools::{Helm, RenderRequest};
use k8s_openapi::api::core::v1::Container;

fn render(request: RenderRequest) -> Rendered {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    Rendered::parse(&helm.template(&request).unwrap_or_else(|e| panic!("{e:#}"))).unwrap()
}

fn env_names(container: &Container) -> Vec<String> {
    container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect()
}

fn config(rendered: &Rendered, key: &str) -> Option<String> {
    rendered
        .config_maps()
        .find_map(|c| c.data.as_ref()?.get(key).cloned())
}

#[test]
fn postgresql_has_memory_backed_shm_and_a_pg_isready_liveness_probe() {
    let rendered = render(RenderRequest::new());
    let sts = rendered.stateful_sets().next().unwrap();
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let shm = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "shm")
        .and_then(|v| v.empty_dir.as_ref())
        .expect("an shm emptyDir");
    assert_eq!(shm.medium.as_deref(), Some("Memory"));
    assert_eq!(shm.size_limit.as_ref().map(|q| q.0.as_str()), Some("128Mi"));
    let container = &pod.containers[0];
    assert!(
        container
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "shm" && m.mount_path == "/dev/shm")
    );
    let liveness = container.liveness_probe.as_ref().unwrap();
    let command = liveness.exec.as_ref().unwrap().command.as_ref().unwrap();
    assert_eq!(command[0], "pg_isready");
}

#[test]
fn the_backup_cronjob_follows_its_values() {
    let rendered = render(
        RenderRequest::new()
            .set("postgresql.backup.enabled=true")
            .set("postgresql.backup.keep=5")
            .set_string("postgresql.backup.schedule=0 2 * * *"),
    );
    let job = rendered
        .objects
        .iter()
        .find_map(|o| match o {
            Object::CronJob(c) => Some(c),
            _ => None,
        })
        .expect("a CronJob");
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.schedule, "0 2 * * *");
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    let pod = spec
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let container = &pod.containers[0];
    let keep = container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "BACKUP_KEEP")
        .and_then(|e| e.value.clone());
    assert_eq!(keep.as_deref(), Some("5"));
    let script = container.args.as_ref().unwrap().join("\n");
    assert!(script.contains("pg_dump --format=custom"), "{script}");
    let claim = pod
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.persistent_volume_claim.as_ref())
        .unwrap();
    assert!(
        rendered
            .find("PersistentVolumeClaim", &claim.claim_name)
            .is_some(),
        "the backup PVC {} is rendered",
        claim.claim_name
    );
}

#[test]
fn migrations_wait_for_the_database_with_a_bounded_backoff() {
    let rendered = render(RenderRequest::new());
    let api = rendered
        .deployments()
        .find(|d| d.metadata.name.as_deref() == Some("todo-api"))
        .unwrap();
    let pod = api.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let migrate = &pod.init_containers.as_ref().unwrap()[0];
    let names = env_names(migrate);
    assert!(
        names.contains(&"MIGRATE_WAIT_SECONDS".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"MIGRATE_RETRY_MAX_SECONDS".to_string()));
    assert_eq!(
        config(&rendered, "MIGRATE_WAIT_SECONDS").as_deref(),
        Some("300")
    );
    assert_eq!(
        config(&rendered, "MIGRATE_RETRY_MAX_SECONDS").as_deref(),
        Some("10")
    );
}

#[test]
fn the_chat_turn_budget_reaches_api_and_a_longer_one_web() {
    let rendered = render(RenderRequest::new().set("chat.turnTimeoutSeconds=90"));
    assert_eq!(
        config(&rendered, "CHAT_TURN_TIMEOUT_SECONDS").as_deref(),
        Some("90")
    );
    assert_eq!(
        config(&rendered, "API_CHAT_TIMEOUT_SECONDS").as_deref(),
        Some("105")
    );
    for (component, wanted) in [
        ("todo-api", &["CHAT_TURN_TIMEOUT_SECONDS"][..]),
        (
            "todo-web",
            &["CHAT_TURN_TIMEOUT_SECONDS", "API_CHAT_TIMEOUT_SECONDS"][..],
        ),
    ] {
        let deployment = rendered
            .deployments()
            .find(|d| d.metadata.name.as_deref() == Some(component))
            .unwrap();
        let pod = deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        let names = env_names(&pod.containers[0]);
        for name in wanted {
            assert!(names.contains(&name.to_string()), "{component}: {names:?}");
        }
    }
    // null: the services' own defaults, nothing set.
    let rendered = render(RenderRequest::new().set("chat.turnTimeoutSeconds=null"));
    assert_eq!(config(&rendered, "CHAT_TURN_TIMEOUT_SECONDS"), None);
}

#[test]
fn defaults_are_production_shaped() {
    let rendered = render(RenderRequest::new());
    for deployment in rendered.deployments() {
        let spec = deployment.spec.as_ref().unwrap();
        let name = deployment.metadata.name.clone().unwrap();
        // api is autoscaled (no replicas field); mcp and web run two.
        if name != "todo-api" {
            assert_eq!(spec.replicas, Some(2), "{name}");
        }
        let readiness = spec.template.spec.as_ref().unwrap().containers[0]
            .readiness_probe
            .clone()
            .unwrap();
        let tolerated = readiness.period_seconds.unwrap() * readiness.failure_threshold.unwrap();
        assert!(
            tolerated > 10,
            "{name}: readiness flips after {tolerated} s, a 10 s blip would take every pod out"
        );
    }
    let hpa = rendered.autoscalers().next().unwrap();
    assert_eq!(hpa.spec.as_ref().unwrap().min_replicas, Some(2));
}
