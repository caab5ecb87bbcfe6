//! Every scenario's render follows every policy rule, under Helm 4 and Helm 3 alike.

#![allow(clippy::unwrap_used)]

use chart_policy::policy;
use chart_policy::scenarios;
use chart_policy::tools::Helm;
use serde::Deserialize;
use serde_json::Value;

use crate::live::RenderScenario as _;

fn helm() -> Helm {
    Helm::primary().unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn every_scenario_follows_the_policy() {
    let helm = helm();
    let mut failures = Vec::new();
    for scenario in scenarios::all() {
        let rendered = scenario.render(&helm).unwrap_or_else(|e| panic!("{e:#}"));
        let expect = scenario.expectations().unwrap_or_else(|e| panic!("{e:#}"));
        assert!(
            rendered.objects.len() > 10,
            "scenario {} rendered only {} objects",
            scenario.name,
            rendered.objects.len()
        );
        for violation in policy::check(&rendered, &expect) {
            failures.push(format!("{}: {violation}", scenario.name));
        }
    }
    assert!(
        failures.is_empty(),
        "policy violations:\n{}",
        failures.join("\n")
    );
}

/// The documents of a render with generated Secret values blanked (they are random).
fn comparable(text: &str) -> Vec<Value> {
    yaml_serde::Deserializer::from_str(text)
        .map(|doc| {
            let mut value = Value::deserialize(doc).unwrap();
            if value.get("kind").and_then(Value::as_str) == Some("Secret")
                && let Some(data) = value.get_mut("data").and_then(Value::as_object_mut)
            {
                for entry in data.values_mut() {
                    *entry = Value::String("<generated>".into());
                }
            }
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// With Helm 3 and Helm 4 installed (CI sets HELM_MAJORS=4,3, so there it always is), both
/// render the same objects. With one major installed there is no second render to compare.
#[test]
fn helm3_and_helm4_render_the_same_objects() {
    let helms = Helm::installed().unwrap_or_else(|e| panic!("{e:#}"));
    let [v4, v3] = helms.as_slice() else {
        eprintln!(
            "only Helm {} is installed: nothing to compare it with (HELM_MAJORS=4,3 requires both)",
            helms[0].version
        );
        return;
    };
    assert_eq!((v4.major, v3.major), (4, 3));
    for scenario in scenarios::all() {
        let request = scenario.request();
        let four = comparable(&v4.template(&request).unwrap_or_else(|e| panic!("{e:#}")));
        let three = comparable(&v3.template(&request).unwrap_or_else(|e| panic!("{e:#}")));
        assert_eq!(
            four.len(),
            three.len(),
            "scenario {}: object counts differ",
            scenario.name
        );
        for (a, b) in four.iter().zip(&three) {
            assert_eq!(
                a, b,
                "scenario {}: helm {} and helm {} render differently",
                scenario.name, v4.version, v3.version
            );
        }
    }
}

#[test]
fn the_three_values_files_are_the_first_scenarios() {
    let names: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
    assert_eq!(&names[..3], &scenarios::VALUES_FILES[..]);
}
