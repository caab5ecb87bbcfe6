//! Image references: registry, tag or digest, and pull policy for the values given.

use super::*;

/// Splits an image reference into (name, tag, digest).
pub fn split_image(reference: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest.to_string())),
        None => (reference, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(colon) => (
            rest[..slash + colon].to_string(),
            Some(rest[slash + colon + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

/// Every image pinned by a tag other than "latest", pulled as the values say; the services run
/// exactly the image the values name (the api image for migrations and tests too).
pub fn images(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("images");
    for workload in rendered.workloads() {
        let component = workload.component().unwrap_or_default();
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let image = container.image.clone().unwrap_or_default();
            let (_, tag, digest) = split_image(&image);
            report.check(tag.is_some(), &id, format!("image {image} has no tag"));
            report.check(
                tag.as_deref() != Some("latest"),
                &id,
                format!("image {image} uses the latest tag"),
            );
            if let Some(digest) = digest {
                report.check(
                    digest.len() == 71 && digest.starts_with("sha256:"),
                    &id,
                    format!("image {image} has a malformed digest"),
                );
            }
            // The values choose (IfNotPresent by default); the services' containers must
            // carry what their values say.
            let wanted = match component.as_str() {
                "test" => expect.services.get("api"),
                "api" | "mcp" | "web" => expect.services.get(&component),
                _ => None,
            }
            .map(|s| s.pull_policy.as_str());
            let policy = container.image_pull_policy.as_deref();
            report.check(
                matches!(policy, Some("IfNotPresent" | "Always" | "Never"))
                    && wanted.is_none_or(|w| policy == Some(w)),
                &id,
                format!(
                    "imagePullPolicy is {policy:?}, not the values' {}",
                    wanted.unwrap_or("IfNotPresent, Always or Never")
                ),
            );
            let expected = match component.as_str() {
                "test" => expect.services.get("api"),
                "api" | "mcp" | "web" => expect.services.get(&component),
                _ => None,
            };
            if let Some(service) = expected {
                report.check(
                    image == service.image,
                    &id,
                    format!("image {image}, values ask for {}", service.image),
                );
            }
        }
    }
    report.violations
}
