//! Secret values never appear in plain text: not in ConfigMaps, literal env values or annotations.

use super::*;

/// Decoded values of every rendered Secret.
pub(super) fn secret_values(rendered: &Rendered) -> Vec<(String, String, String)> {
    let mut values = Vec::new();
    for secret in rendered.secrets() {
        let name = secret.metadata.name.clone().unwrap_or_default();
        for (key, value) in secret.data.iter().flatten() {
            values.push((
                name.clone(),
                key.clone(),
                String::from_utf8_lossy(&value.0).into_owned(),
            ));
        }
        for (key, value) in secret.string_data.iter().flatten() {
            values.push((name.clone(), key.clone(), value.clone()));
        }
    }
    values
}

/// No Secret value appears anywhere else: ConfigMaps, env literals, args, annotations,
/// labels. Secret-carrying variables come from secretKeyRef (or expand one).
pub fn secrets_not_leaked(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("secrets");
    let secrets = secret_values(rendered);
    for (name, key, value) in &secrets {
        report.check(
            value.len() >= 16,
            format!("Secret/{name}"),
            format!("{key} is shorter than 16 bytes"),
        );
    }
    let mut places: Vec<(String, String)> = Vec::new();
    for object in &rendered.objects {
        if matches!(object, Object::Secret(_)) {
            continue;
        }
        let meta = object.metadata();
        for (key, value) in meta
            .annotations
            .iter()
            .flatten()
            .chain(meta.labels.iter().flatten())
        {
            places.push((object.id(), format!("metadata {key}={value}")));
        }
        if let Object::ConfigMap(cm) = object {
            for (key, value) in cm.data.iter().flatten() {
                places.push((object.id(), format!("{key}={value}")));
                report.check(
                    !SECRET_ENV.contains(&key.as_str())
                        && !key.contains("PASSWORD")
                        && !key.contains("SECRET")
                        && !key.contains("API_KEY"),
                    object.id(),
                    format!("ConfigMap key {key} names a secret"),
                );
            }
        }
    }
    for workload in rendered.workloads() {
        for (key, value) in workload.pod_annotations() {
            places.push((workload.id(), format!("pod annotation {key}={value}")));
        }
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            for arg in container
                .args
                .iter()
                .flatten()
                .chain(container.command.iter().flatten())
            {
                places.push((id.clone(), format!("argument {arg}")));
            }
            let env = container.env.as_deref().unwrap_or_default();
            for var in env {
                let Some(value) = &var.value else { continue };
                places.push((id.clone(), format!("env {}={value}", var.name)));
                if SECRET_ENV.contains(&var.name.as_str()) {
                    report.check(
                        expands_only_secrets(value, env),
                        &id,
                        format!(
                            "{} is a literal; it must come from a secretKeyRef",
                            var.name
                        ),
                    );
                }
            }
        }
    }
    for (object, place) in &places {
        for (name, key, value) in &secrets {
            if value.len() >= 8 && place.contains(value.as_str()) {
                report.fail(
                    object,
                    format!("value of Secret {name} key {key} appears in {place}"),
                );
            }
        }
    }
    report.violations
}

/// A literal that only assembles a value from secret-sourced variables: it references at
/// least one `$(VAR)` and every referenced VAR comes from a secretKeyRef.
pub(super) fn expands_only_secrets(value: &str, env: &[EnvVar]) -> bool {
    let mut referenced = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("$(") {
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        referenced.push(&rest[start + 2..start + end]);
        rest = &rest[start + end..];
    }
    !referenced.is_empty()
        && referenced.iter().all(|name| {
            env.iter().any(|var| {
                var.name == *name
                    && var
                        .value_from
                        .as_ref()
                        .and_then(|from| from.secret_key_ref.as_ref())
                        .is_some()
            })
        })
}
