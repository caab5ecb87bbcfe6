//! values.schema.json and templates/validate.yaml refuse bad values with a clear message,
//! under Helm 4 and Helm 3; the shipped values files pass.

#![allow(clippy::unwrap_used)]

use chart_policy::bad_values::CASES;
use chart_policy::scenarios;
use chart_policy::tools::{Helm, RenderRequest};

fn both() -> Vec<Helm> {
    Helm::installed().unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn bad_values_are_refused_with_a_clear_message() {
    let mut failures = Vec::new();
    for helm in both() {
        for case in CASES {
            if let Err(error) = case.check(&helm) {
                failures.push(format!("{error:#}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_values_files_are_accepted() {
    for helm in both() {
        for file in scenarios::VALUES_FILES {
            helm.template(&RenderRequest::new().values_file(file))
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
    }
}

#[test]
fn a_tag_given_with_set_string_is_accepted() {
    // The deploy tool passes content tags with --set-string: all-digit tags must work.
    for helm in both() {
        let out = helm
            .template(
                &RenderRequest::new()
                    .set_string("api.image.tag=20251124")
                    .set_string("mcp.image.tag=0123456"),
            )
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(out.contains("image: \"todo-api:20251124\""), "{out}");
        assert!(out.contains("image: \"todo-mcp:0123456\""));
    }
}
