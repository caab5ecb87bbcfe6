//! Canonical JSON: object keys sorted at every level, no whitespace.
//!
//! oci-spec keeps labels and annotations in `HashMap`s, whose iteration order changes from run
//! to run; serialising through this module makes every JSON blob byte-for-byte stable (and is
//! independent of whether serde_json's `preserve_order` feature is on in the build).

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Map, Value};

/// Recursively rebuilds every object with its keys in sorted order.
pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sorted = Map::new();
            for (k, v) in entries {
                sorted.insert(k, sort_keys(v));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The canonical JSON bytes of `value`.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let value = serde_json::to_value(value).context("serialising JSON")?;
    canonical_value(value)
}

/// The canonical JSON bytes of an already built `Value`.
pub fn canonical_value(value: Value) -> Result<Vec<u8>> {
    serde_json::to_vec(&sort_keys(value)).context("serialising JSON")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"z": [{"y": 1, "x": 2}], "c": null}});
        let out = String::from_utf8(canonical_value(v).unwrap()).unwrap();
        assert_eq!(out, r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#);
    }

    #[test]
    fn hash_map_order_does_not_leak() {
        let first: HashMap<String, u32> = (0..50).map(|i| (format!("k{i}"), i)).collect();
        let second: HashMap<String, u32> = (0..50).rev().map(|i| (format!("k{i}"), i)).collect();
        assert_eq!(
            canonical_json(&first).unwrap(),
            canonical_json(&second).unwrap()
        );
    }
}
