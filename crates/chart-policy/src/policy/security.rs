//! Containers, security contexts and Pod Security "restricted": resources, non-root, read-only root filesystem, capabilities, volumes and sysctls.

use super::*;

/// Requests and limits of cpu and memory on every container, requests within limits; the
/// container security settings.
pub fn containers(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("containers");
    for workload in rendered.workloads() {
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let resources = container.resources.as_ref();
            for resource in ["cpu", "memory"] {
                let request = resources
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get(resource));
                let limit = resources
                    .and_then(|r| r.limits.as_ref())
                    .and_then(|r| r.get(resource));
                report.check(request.is_some(), &id, format!("no {resource} request"));
                report.check(limit.is_some(), &id, format!("no {resource} limit"));
                if let (Some(request), Some(limit)) = (request, limit) {
                    match (parse_quantity(request), parse_quantity(limit)) {
                        (Some(r), Some(l)) => report.check(
                            r <= l,
                            &id,
                            format!(
                                "{resource} request {} exceeds its limit {}",
                                request.0, limit.0
                            ),
                        ),
                        _ => report.fail(
                            &id,
                            format!("unparsable {resource} quantity {} / {}", request.0, limit.0),
                        ),
                    }
                }
            }

            let security = container.security_context.as_ref();
            report.check(
                security.and_then(|s| s.allow_privilege_escalation) == Some(false),
                &id,
                "allowPrivilegeEscalation is not false",
            );
            report.check(
                security.and_then(|s| s.read_only_root_filesystem) == Some(true),
                &id,
                "readOnlyRootFilesystem is not true",
            );
            report.check(
                security.and_then(|s| s.privileged) != Some(true),
                &id,
                "privileged",
            );
            let capabilities = security.and_then(|s| s.capabilities.as_ref());
            report.check(
                capabilities
                    .and_then(|c| c.drop.as_ref())
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                &id,
                "capabilities do not drop ALL",
            );
            report.check(
                capabilities
                    .and_then(|c| c.add.as_ref())
                    .is_none_or(Vec::is_empty),
                &id,
                "capabilities are added",
            );
            // With a read-only root, the only writable paths are volumes; /tmp must be one.
            let mounts: Vec<&str> = container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str())
                .collect();
            report.check(mounts.contains(&"/tmp"), &id, "no writable /tmp volume");
            for mount in container.volume_mounts.iter().flatten() {
                let volume = workload
                    .spec
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == mount.name);
                let claim = mount.name == "data" && workload.kind == "StatefulSet";
                // Writable: emptyDirs, the StatefulSet's claim and claims of the pod (the
                // backup volume); configMap, secret and projected volumes are read-only.
                let allowed = volume.is_some_and(|v| {
                    v.empty_dir.is_some()
                        || v.persistent_volume_claim.is_some()
                        || v.config_map.is_some()
                        || v.secret.is_some()
                        || v.projected.is_some()
                });
                report.check(
                    allowed || claim,
                    &id,
                    format!(
                        "mount {} is neither an emptyDir, a volume claim nor a read-only configMap/secret/projected volume",
                        mount.mount_path
                    ),
                );
            }
        }
    }
    report.violations
}

/// Pod-level security: non-root (65532 for the services), seccomp RuntimeDefault, no
/// service account token, service accounts that exist and do not automount either.
pub fn pod_security(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("pod-security");
    for workload in rendered.workloads() {
        let id = workload.id();
        let pod = workload.spec.security_context.as_ref();
        report.check(
            workload.spec.automount_service_account_token == Some(false),
            &id,
            "automountServiceAccountToken is not false",
        );
        report.check(workload.spec.host_network != Some(true), &id, "hostNetwork");
        let component = workload.component().unwrap_or_default();
        for container in all_containers(workload.spec) {
            let cid = format!("{id} container {}", container.name);
            let own = container.security_context.as_ref();
            let run_as_non_root = own
                .and_then(|s| s.run_as_non_root)
                .or(pod.and_then(|s| s.run_as_non_root));
            let user = own
                .and_then(|s| s.run_as_user)
                .or(pod.and_then(|s| s.run_as_user));
            let group = own
                .and_then(|s| s.run_as_group)
                .or(pod.and_then(|s| s.run_as_group));
            let seccomp = own
                .and_then(|s| s.seccomp_profile.as_ref())
                .or(pod.and_then(|s| s.seccomp_profile.as_ref()))
                .map(|p| p.type_.as_str());
            report.check(
                run_as_non_root == Some(true),
                &cid,
                "runAsNonRoot is not true",
            );
            report.check(
                user.is_some_and(|u| u != 0),
                &cid,
                "runAsUser is not set to a non-root uid",
            );
            report.check(
                seccomp == Some("RuntimeDefault"),
                &cid,
                "seccomp profile is not RuntimeDefault",
            );
            // The PostgreSQL image's own user runs the database and its backup job.
            if component != "postgresql" && component != "backup" {
                report.check(
                    user == Some(SERVICE_UID) && group == Some(SERVICE_UID),
                    &cid,
                    format!("runs as {user:?}:{group:?}, not {SERVICE_UID}:{SERVICE_UID}"),
                );
            }
        }
        if workload.kind != "Pod" {
            let account = workload
                .spec
                .service_account_name
                .as_deref()
                .unwrap_or("default");
            report.check(
                account != "default",
                &id,
                "uses the namespace's default ServiceAccount",
            );
            if let Some(Object::ServiceAccount(sa)) = rendered.find("ServiceAccount", account) {
                report.check(
                    sa.automount_service_account_token == Some(false),
                    format!("ServiceAccount/{account}"),
                    "automountServiceAccountToken is not false",
                );
            } else {
                report.fail(&id, format!("ServiceAccount {account} is not rendered"));
            }
        }
    }
    for sa in rendered.service_accounts() {
        report.check(
            sa.automount_service_account_token == Some(false),
            format!(
                "ServiceAccount/{}",
                sa.metadata.name.as_deref().unwrap_or_default()
            ),
            "automountServiceAccountToken is not false",
        );
    }
    report.violations
}

/// Volume types the Pod Security "restricted" profile allows.
pub(super) const RESTRICTED_VOLUME_TYPES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls the baseline (and so restricted) profile allows.
pub(super) const SAFE_SYSCTLS: [&str; 9] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
];

/// Pod Security Standards "restricted" (latest, which includes "baseline"), on every pod the
/// render can create (Deployments, the StatefulSet, the backup CronJob, the test pods): what
/// the admission controller of a namespace labelled `pod-security.kubernetes.io/enforce:
/// restricted` would check.
pub fn restricted(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("pod-security-restricted");
    for workload in rendered.workloads() {
        let id = workload.id();
        let spec = workload.spec;
        let pod = spec.security_context.as_ref();
        for (flag, name) in [
            (spec.host_network, "hostNetwork"),
            (spec.host_pid, "hostPID"),
            (spec.host_ipc, "hostIPC"),
        ] {
            report.check(flag != Some(true), &id, format!("{name} is true"));
        }
        for volume in spec.volumes.iter().flatten() {
            let value = serde_json::to_value(volume).unwrap_or_default();
            let types: Vec<&String> = value
                .as_object()
                .map(|o| o.keys().filter(|k| *k != "name").collect())
                .unwrap_or_default();
            for kind in types {
                report.check(
                    RESTRICTED_VOLUME_TYPES.contains(&kind.as_str()),
                    &id,
                    format!(
                        "volume {} is of type {kind}, not allowed by restricted",
                        volume.name
                    ),
                );
            }
        }
        if let Some(pod) = pod {
            for sysctl in pod.sysctls.iter().flatten() {
                report.check(
                    SAFE_SYSCTLS.contains(&sysctl.name.as_str()),
                    &id,
                    format!("sysctl {} is not in the safe set", sysctl.name),
                );
            }
            report.check(pod.run_as_user != Some(0), &id, "pod runAsUser is 0");
            if let Some(profile) = &pod.seccomp_profile {
                report.check(
                    matches!(profile.type_.as_str(), "RuntimeDefault" | "Localhost"),
                    &id,
                    format!("pod seccompProfile {}", profile.type_),
                );
            }
        }
        for container in all_containers(spec) {
            let cid = format!("{id} container {}", container.name);
            let own = container.security_context.as_ref();
            report.check(
                own.and_then(|s| s.privileged) != Some(true),
                &cid,
                "privileged",
            );
            report.check(
                own.and_then(|s| s.allow_privilege_escalation) == Some(false),
                &cid,
                "allowPrivilegeEscalation is not false",
            );
            let capabilities = own.and_then(|s| s.capabilities.as_ref());
            report.check(
                capabilities
                    .and_then(|c| c.drop.as_ref())
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                &cid,
                "capabilities.drop does not contain ALL",
            );
            for added in capabilities
                .and_then(|c| c.add.as_ref())
                .into_iter()
                .flatten()
            {
                report.check(
                    added == "NET_BIND_SERVICE",
                    &cid,
                    format!("adds capability {added}"),
                );
            }
            report.check(
                own.and_then(|s| s.run_as_non_root)
                    .or(pod.and_then(|s| s.run_as_non_root))
                    == Some(true),
                &cid,
                "runAsNonRoot is not true",
            );
            report.check(
                own.and_then(|s| s.run_as_user) != Some(0),
                &cid,
                "runAsUser is 0",
            );
            let seccomp = own
                .and_then(|s| s.seccomp_profile.as_ref())
                .or(pod.and_then(|s| s.seccomp_profile.as_ref()))
                .map(|p| p.type_.as_str());
            report.check(
                matches!(seccomp, Some("RuntimeDefault" | "Localhost")),
                &cid,
                "seccompProfile is neither RuntimeDefault nor Localhost",
            );
            report.check(
                own.and_then(|s| s.proc_mount.as_deref())
                    .is_none_or(|m| m == "Default"),
                &cid,
                "procMount is not Default",
            );
            for port in container.ports.iter().flatten() {
                report.check(
                    port.host_port.is_none_or(|p| p == 0),
                    &cid,
                    format!("hostPort {:?}", port.host_port),
                );
            }
        }
    }
    report.violations
}
