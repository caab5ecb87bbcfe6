//! Every scenario's render follows every policy rule, under Helm 4 and Helm 3 alike.

#![allow(clippy::unwrap_used)]

use chart_policy::policy;
use chart_policy::scenarios;
use chart_policy::tools::Helm;
use serde::Deserialize;
use serde_json::Value;

fn helm4() -> Helm {
    Helm::v4().unwrap_or_else(|e| panic!("{e:#}"))
}

#[test]
fn every_scenario_follows_the_policy() {
    let helm = helm4();
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

#[test]
fn helm3_and_helm4_render_the_same_objects() {
    let (v4, v3) = (helm4(), Helm::v3().unwrap_or_else(|e| panic!("{e:#}")));
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
