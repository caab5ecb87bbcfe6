//! The fixed forms understood without a model, on the fixture table
//! tests/fixtures/fixed_forms.txt (request | expected call, `refused` or `unknown`).
#![allow(clippy::unwrap_used)]

use cluster_ask::fixed::{Parsed, parse};

#[test]
fn every_fixture_line_parses_as_expected() {
    let table = include_str!("fixtures/fixed_forms.txt");
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (request, expected) = line.split_once(" | ").unwrap();
        let expected = expected.trim();
        let got = match parse(request) {
            Parsed::Intent(intent) => {
                let (name, args) = intent.call();
                // Compared as JSON values, whatever the key order.
                let (want_name, want_args) = expected.split_once(' ').unwrap_or((expected, "null"));
                let want_args: serde_json::Value = serde_json::from_str(want_args).unwrap();
                assert_eq!(
                    (name, &args),
                    (want_name, &want_args),
                    "request {request:?}"
                );
                expected.to_string()
            }
            Parsed::Refused(why) => {
                assert!(why.contains("PersistentVolumeClaims or Secrets"), "{why}");
                "refused".to_string()
            }
            Parsed::Unknown => "unknown".to_string(),
        };
        assert_eq!(got, expected, "request {request:?}");
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} fixture lines");
}
