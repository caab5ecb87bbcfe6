//! Pod-level analyzers: the root causes (scheduling, images, configuration, crashes, probes).

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::between;
use crate::finding::{Finding, ObjectRef};
use cluster_client::pod_state::{container_statuses, is_pod_ready, pod_name};
use cluster_client::snapshot::{ContainerKey, Snapshot};

fn pod_ref(snapshot: &Snapshot, pod: &Pod) -> ObjectRef {
    let namespace = pod
        .metadata
        .namespace
        .as_deref()
        .unwrap_or(&snapshot.namespace);
    ObjectRef::new("Pod", Some(namespace), pod_name(pod))
}

fn namespace_of<'a>(snapshot: &'a Snapshot, pod: &'a Pod) -> &'a str {
    pod.metadata
        .namespace
        .as_deref()
        .unwrap_or(&snapshot.namespace)
}

/// The chart's component label (`api`, `mcp`, `web`, `postgresql`), which is also the top-level
/// values key of that component.
fn component(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get("app.kubernetes.io/component")
        .map(String::as_str)
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

fn waiting_message(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.message.as_deref()
}

fn last_termination_reason(status: &ContainerStatus) -> Option<&str> {
    status
        .last_state
        .as_ref()?
        .terminated
        .as_ref()?
        .reason
        .as_deref()
}

fn container_spec<'a>(
    pod: &'a Pod,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// Pods whose scheduler says no (PodScheduled=False, FailedScheduling events).
pub fn unschedulable(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase != Some("Pending") {
            continue;
        }
        let condition = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            });
        let events: Vec<_> = snapshot
            .events_for("Pod", pod_name(pod))
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
            .collect();
        if condition.is_none() && events.is_empty() {
            continue;
        }
        let mut evidence = Vec::new();
        let mut reason_text = String::new();
        if let Some(condition) = condition {
            let message = condition.message.clone().unwrap_or_default();
            evidence.push(format!(
                "condition PodScheduled=False, reason {}: {message}",
                condition.reason.as_deref().unwrap_or("Unschedulable")
            ));
            reason_text = message;
        }
        if let Some(event) = events.last() {
            let message = event.message.clone().unwrap_or_default();
            if message != reason_text {
                evidence.push(format!(
                    "event FailedScheduling (x{}): {message}",
                    event.count.unwrap_or(1)
                ));
            }
            if reason_text.is_empty() {
                reason_text = message;
            }
        }
        let namespace = namespace_of(snapshot, pod);
        let suggestion = if reason_text.contains("Insufficient cpu")
            || reason_text.contains("Insufficient memory")
        {
            "The nodes lack free CPU or memory for this pod's requests. Give minikube more \
             (`minikube delete -p <profile>`, then `cargo xtask deploy --cpus 4 --memory 8192`) or lower \
             the requests in the values file."
                .to_string()
        } else if reason_text.contains("PersistentVolumeClaim") {
            "A PersistentVolumeClaim of this pod is not bound: see the PersistentVolumeClaim finding. On \
             minikube: `minikube -p <profile> addons enable storage-provisioner` and `default-storageclass`."
                .to_string()
        } else if reason_text.contains("taint") {
            "The nodes carry taints the pod does not tolerate: `kubectl describe nodes` shows them; remove \
             the taint or add a toleration."
                .to_string()
        } else if reason_text.contains("affinity") || reason_text.contains("selector") {
            "No node matches the pod's nodeSelector or affinity: check those in the values file."
                .to_string()
        } else {
            format!(
                "`kubectl describe pod -n {namespace} {}` shows the scheduler's events.",
                pod_name(pod)
            )
        };
        findings.push(Finding {
            analyzer: "unschedulable",
            object: pod_ref(snapshot, pod),
            problem: "cannot be scheduled".to_string(),
            evidence,
            suggestion,
        });
    }
    findings
}

/// `name:tag` without registry `docker.io/library/` noise, for comparing references.
pub(crate) fn short_reference(image: &str) -> &str {
    image
        .strip_prefix("docker.io/library/")
        .or_else(|| image.strip_prefix("docker.io/"))
        .unwrap_or(image)
}

/// The repository part of a reference (before `:tag` / `@digest`).
fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        // A colon after the last slash separates the tag; one before it is a registry port.
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

/// A reference without a registry host (`todo-api:abc`), i.e. an image that only exists where
/// it was loaded.
fn is_local_image(image: &str) -> bool {
    let first = image.split('/').next().unwrap_or_default();
    let has_registry =
        image.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    !has_registry
}

/// Images the node cannot get (ImagePullBackOff, ErrImagePull, ErrImageNeverPull, InvalidImageName).
pub fn image_pull(snapshot: &Snapshot) -> Vec<Finding> {
    const REASONS: &[&str] = &[
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
    ];
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        for (status, _) in container_statuses(pod) {
            let Some(reason) = waiting_reason(status).filter(|r| REASONS.contains(r)) else {
                continue;
            };
            let spec = container_spec(pod, &status.name);
            let image = spec
                .and_then(|c| c.image.clone())
                .unwrap_or_else(|| status.image.clone());
            let policy = spec
                .and_then(|c| c.image_pull_policy.clone())
                .unwrap_or_else(|| "default".to_string());
            let mut evidence = vec![format!(
                "container {}: image {image}, imagePullPolicy {policy}",
                status.name
            )];
            evidence.push(match waiting_message(status) {
                Some(message) => format!("waiting: {reason}: {message}"),
                None => format!("waiting: {reason}"),
            });
            for event in snapshot
                .events_for("Pod", pod_name(pod))
                .iter()
                .rev()
                .take(2)
            {
                if event.type_.as_deref() == Some("Warning")
                    && let Some(message) = event.message.as_deref()
                {
                    evidence.push(format!(
                        "event {}: {message}",
                        event.reason.as_deref().unwrap_or_default()
                    ));
                }
            }
            let wanted = short_reference(&image);
            let built = snapshot
                .built_images
                .iter()
                .map(|b| short_reference(b))
                .find(|b| repository(b) == repository(wanted) && *b != wanted);
            let mut suggestion = String::new();
            if let Some(built) = built {
                evidence.push(format!("the last local build produced {built}"));
                suggestion.push_str(&format!(
                    "Tag mismatch: the pod wants {wanted} but the last build produced {built}. Re-run \
                     `cargo xtask deploy`: it loads the built images and sets the tags. "
                ));
            }
            if reason == "InvalidImageName" {
                suggestion.push_str("The image reference is malformed: check the chart's image.repository and image.tag values.");
            } else if reason == "ErrImageNeverPull" || is_local_image(&image) {
                let name = repository(wanted).rsplit('/').next().unwrap_or(wanted);
                suggestion.push_str(&format!(
                    "{wanted} is a local image: it must be loaded into the cluster's image store. \
                     `cargo xtask deploy` builds and loads it; by hand: `minikube -p <profile> image load \
                     target/images/{name}.oci.tar`, then check `minikube -p <profile> image ls`."
                ));
            } else {
                suggestion.push_str(&format!(
                    "Check the image exists and the cluster can reach its registry: `skopeo inspect \
                     docker://{image}`; a private registry needs imagePullSecrets."
                ));
            }
            findings.push(Finding {
                analyzer: "image-pull",
                object: pod_ref(snapshot, pod),
                problem: format!("container {} cannot get its image ({reason})", status.name),
                evidence,
                suggestion,
            });
        }
    }
    findings
}

/// A missing Secret / ConfigMap or key, parsed from the kubelet's message.
#[derive(Debug, PartialEq, Eq)]
enum MissingConfig<'a> {
    Object {
        kind: &'a str,
        name: &'a str,
    },
    Key {
        kind: &'a str,
        name: &'a str,
        key: &'a str,
    },
}

fn parse_missing_config(message: &str) -> Option<MissingConfig<'_>> {
    for (kind, lower) in [("Secret", "secret"), ("ConfigMap", "configmap")] {
        if let Some(name) = between(message, &format!("{lower} \""), "\" not found") {
            return Some(MissingConfig::Object { kind, name });
        }
        if let Some(key) = between(message, "couldn't find key ", &format!(" in {kind} ")) {
            let rest = &message[message.find(&format!(" in {kind} "))? + kind.len() + 5..];
            let qualified = rest.split_whitespace().next().unwrap_or(rest);
            let name = qualified.rsplit('/').next().unwrap_or(qualified);
            return Some(MissingConfig::Key { kind, name, key });
        }
    }
    None
}

/// Containers that cannot be created because their configuration refers to something missing
/// (CreateContainerConfigError, CreateContainerError).
pub fn container_config(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        for (status, _) in container_statuses(pod) {
            let Some(reason) = waiting_reason(status)
                .filter(|r| *r == "CreateContainerConfigError" || *r == "CreateContainerError")
            else {
                continue;
            };
            let message = waiting_message(status).unwrap_or_default();
            let namespace = namespace_of(snapshot, pod);
            let suggestion = match parse_missing_config(message) {
                Some(MissingConfig::Object { kind: "Secret", name: "todo-llm-api-key" }) => {
                    "The release refers to Secret todo-llm-api-key (llm.existingSecret) but it does not exist. \
                     Export LLM_API_KEY and re-run `cargo xtask deploy` (it creates the Secret), or deploy \
                     without llm.existingSecret to use the built-in chat engine."
                        .to_string()
                }
                Some(MissingConfig::Object { kind: "Secret", name }) => format!(
                    "Secret {name} does not exist in {namespace}. Re-run `cargo xtask deploy` if the chart owns it, \
                     or create it: `kubectl create secret generic {name} -n {namespace} --from-literal=KEY=VALUE`."
                ),
                Some(MissingConfig::Object { kind, name }) => format!(
                    "{kind} {name} does not exist in {namespace}: re-run `cargo xtask deploy` so the chart creates it."
                ),
                Some(MissingConfig::Key { kind: "Secret", name, key }) => format!(
                    "Secret {name} has no key `{key}`. List its keys with `kubectl get secret -n {namespace} {name} \
                     -o jsonpath='{{.data}}'` and add the key (or fix the key name in the values)."
                ),
                Some(MissingConfig::Key { kind, name, key }) => format!(
                    "{kind} {name} has no key `{key}`: `kubectl get {} -n {namespace} {name} -o yaml`, then add the \
                     key or fix the reference.",
                    kind.to_lowercase()
                ),
                None if message.contains("runAsNonRoot") => {
                    "The pod requires a non-root user but the image does not declare a numeric one: set \
                     securityContext.runAsUser (65532) or fix the image's user."
                        .to_string()
                }
                None => format!(
                    "`kubectl describe pod -n {namespace} {}` shows the full error; fix the container's \
                     env/volume references.",
                    pod_name(pod)
                ),
            };
            findings.push(Finding {
                analyzer: "container-config",
                object: pod_ref(snapshot, pod),
                problem: format!("container {} cannot be created ({reason})", status.name),
                evidence: vec![format!("waiting: {reason}: {message}")],
                suggestion,
            });
        }
    }
    findings
}

fn oom_terminated(
    status: &ContainerStatus,
) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    let last = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    let current = status.state.as_ref().and_then(|s| s.terminated.as_ref());
    [current, last]
        .into_iter()
        .flatten()
        .find(|t| t.reason.as_deref() == Some("OOMKilled"))
}

/// Containers killed for exceeding their memory limit.
pub fn oom_killed(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        for (status, _) in container_statuses(pod) {
            let Some(terminated) = oom_terminated(status) else {
                continue;
            };
            let limit = container_spec(pod, &status.name)
                .and_then(|c| c.resources.as_ref())
                .and_then(|r| r.limits.as_ref())
                .and_then(|limits| limits.get("memory"))
                .map(|quantity| quantity.0.clone());
            let mut evidence = vec![format!(
                "container {}: OOMKilled, exit code {}, restarted {} time(s)",
                status.name, terminated.exit_code, status.restart_count
            )];
            evidence.push(match &limit {
                Some(limit) => format!("memory limit: {limit}"),
                None => "no memory limit set (the node ran out of memory)".to_string(),
            });
            let setting = match component(pod) {
                Some(component) => {
                    format!("`--set {component}.resources.limits.memory=...` (or the values file)")
                }
                None => "the container's resources.limits.memory".to_string(),
            };
            findings.push(Finding {
                analyzer: "oom-killed",
                object: pod_ref(snapshot, pod),
                problem: format!("container {} was killed for running out of memory", status.name),
                evidence,
                suggestion: format!(
                    "Raise the memory limit{} with {setting}, then re-run `cargo xtask deploy`; if usage keeps \
                     growing, look for a leak.",
                    limit.map(|l| format!(" (now {l})")).unwrap_or_default()
                ),
            });
        }
    }
    findings
}

/// Containers in CrashLoopBackOff (not OOM: `oom_killed` covers that), with the last exit and a
/// log tail of the previous run.
pub fn crash_loop(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        for (status, _) in container_statuses(pod) {
            if waiting_reason(status) != Some("CrashLoopBackOff")
                || last_termination_reason(status) == Some("OOMKilled")
            {
                continue;
            }
            let namespace = namespace_of(snapshot, pod);
            let name = pod_name(pod);
            let mut evidence = vec![format!(
                "container {} restarted {} time(s)",
                status.name, status.restart_count
            )];
            let terminated = status
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref());
            if let Some(terminated) = terminated {
                let finished = terminated
                    .finished_at
                    .as_ref()
                    .map(|t| format!(" at {}", t.0))
                    .unwrap_or_default();
                evidence.push(format!(
                    "last exit: reason {}, exit code {}{finished}",
                    terminated.reason.as_deref().unwrap_or("unknown"),
                    terminated.exit_code
                ));
            }
            if let Some(message) = waiting_message(status) {
                evidence.push(format!("waiting: CrashLoopBackOff: {message}"));
            }
            let log = snapshot.logs.get(&ContainerKey::new(name, &status.name));
            if let Some(log) = log.filter(|l| !l.trim().is_empty()) {
                evidence.push(format!("log tail (previous run):\n{}", log.trim_end()));
            }
            let log = log.map(String::as_str).unwrap_or_default();
            let exit_code = terminated.map(|t| t.exit_code);
            let logs_command = format!(
                "`kubectl logs -n {namespace} {name} -c {} --previous`",
                status.name
            );
            let suggestion = if log.contains("too many clients already")
                || log.contains("remaining connection slots are reserved")
            {
                format!(
                    "PostgreSQL has no connection slots left: the services' pools (pods x database.poolSize) \
                     exceed its max_connections. Lower `database.poolSize` or the replica counts, or raise \
                     `postgresql.maxConnections` (or use the external database's pooler). Full log: {logs_command}."
                )
            } else if log.contains("DATABASE_URL")
                || log.contains("password authentication failed")
                || (log.contains("5432") && log.contains("refused"))
            {
                format!(
                    "The service cannot reach or log in to its database: check the PostgreSQL pod (`kubectl get pods \
                     -n {namespace} -l app.kubernetes.io/component=postgresql`) and the database Secret. Full log: \
                     {logs_command}."
                )
            } else if log.contains("JWT_SECRET") {
                format!(
                    "JWT_SECRET is missing or shorter than 32 bytes: check the chart's generated Secret. Full log: \
                     {logs_command}."
                )
            } else if exit_code == Some(137) {
                format!(
                    "Killed by SIGKILL without running out of memory: usually a failing liveness probe (see the \
                     probe findings). Full log: {logs_command}."
                )
            } else {
                format!(
                    "Read the full log with {logs_command}, fix the cause, then re-run `cargo xtask deploy`."
                )
            };
            findings.push(Finding {
                analyzer: "crash-loop",
                object: pod_ref(snapshot, pod),
                problem: format!("container {} is crash-looping", status.name),
                evidence,
                suggestion,
            });
        }
    }
    findings
}

/// Probes failing on pods that are not ready (Unhealthy events). Failures on pods that became
/// ready since are start-up noise and not reported.
pub fn failing_probes(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pod in &snapshot.pods {
        if is_pod_ready(pod) || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = pod_name(pod);
        let unhealthy: Vec<_> = snapshot
            .events_for("Pod", name)
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Unhealthy"))
            .collect();
        let Some(latest) = unhealthy.last() else {
            continue;
        };
        let evidence = unhealthy
            .iter()
            .map(|e| {
                let container = e
                    .involved_object
                    .field_path
                    .as_deref()
                    .and_then(|path| between(path, "{", "}"))
                    .map(|c| format!("container {c}: "))
                    .unwrap_or_default();
                format!(
                    "{container}{} (x{})",
                    e.message.as_deref().unwrap_or_default(),
                    e.count.unwrap_or(1)
                )
            })
            .collect();
        let message = latest.message.as_deref().unwrap_or_default();
        let namespace = namespace_of(snapshot, pod);
        let suggestion = if message.contains("statuscode: 503") {
            format!(
                "The probe endpoint answers 503: /readyz reports not ready, usually because a dependency \
                 (PostgreSQL; for todo-api also todo-mcp) is unreachable. Check those pods and `kubectl logs -n \
                 {namespace} {name}`."
            )
        } else if message.contains("statuscode: 404") {
            "The probe path does not exist: the services serve /livez and /readyz.".to_string()
        } else if message.contains("connection refused") {
            format!(
                "Nothing listens on the probed port: the container's PORT and the probe's port must agree (8080), \
                 and the process must have started (`kubectl logs -n {namespace} {name}`)."
            )
        } else if message.contains("deadline exceeded") || message.contains("timeout") {
            "The probe timed out: the process is slow or starved of CPU; raise the probe's timeoutSeconds / \
             initialDelaySeconds or the CPU limit."
                .to_string()
        } else {
            format!(
                "`kubectl describe pod -n {namespace} {name}` shows the probes and their failures."
            )
        };
        let probe = message.split(" probe failed").next().unwrap_or("probe");
        findings.push(Finding {
            analyzer: "failing-probes",
            object: pod_ref(snapshot, pod),
            problem: format!("{probe} probe failing, pod not ready"),
            evidence,
            suggestion,
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_config_messages_as_the_kubelet_writes_them() {
        assert_eq!(
            parse_missing_config("secret \"todo-llm-api-key\" not found"),
            Some(MissingConfig::Object {
                kind: "Secret",
                name: "todo-llm-api-key"
            })
        );
        assert_eq!(
            parse_missing_config("couldn't find key api-key in Secret todo/todo-llm-api-key"),
            Some(MissingConfig::Key {
                kind: "Secret",
                name: "todo-llm-api-key",
                key: "api-key"
            })
        );
        assert_eq!(
            parse_missing_config("configmap \"todo-config\" not found"),
            Some(MissingConfig::Object {
                kind: "ConfigMap",
                name: "todo-config"
            })
        );
        assert_eq!(
            parse_missing_config("couldn't find key MCP_URL in ConfigMap todo/todo-api"),
            Some(MissingConfig::Key {
                kind: "ConfigMap",
                name: "todo-api",
                key: "MCP_URL"
            })
        );
        assert_eq!(parse_missing_config("something else"), None);
    }

    #[test]
    fn image_references() {
        assert!(is_local_image("todo-api:abc"));
        assert!(is_local_image("library/todo-api:abc"));
        assert!(!is_local_image("localhost:5000/todo-api:abc"));
        assert!(!is_local_image("ghcr.io/x/todo-api:abc"));
        assert_eq!(
            repository("localhost:5000/todo-api:abc"),
            "localhost:5000/todo-api"
        );
        assert_eq!(
            repository("localhost:5000/todo-api"),
            "localhost:5000/todo-api"
        );
        assert_eq!(repository("todo-api@sha256:00"), "todo-api");
        assert_eq!(
            short_reference("docker.io/library/todo-api:1"),
            "todo-api:1"
        );
    }
}
