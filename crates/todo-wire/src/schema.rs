//! Schemas from the wire types, portable to strict validators.
//!
//! schemars writes `Option<String>` as `"type": ["string", "null"]`. That is valid JSON Schema,
//! but ajv's strict mode (inside the TypeScript MCP SDK and the MCP Inspector) refuses union
//! `type` arrays, so [`Portable`] rewrites each into an `anyOf` of single-type schemas.

use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value};

/// Rewrites every `"type": [..]` into `"anyOf": [{"type": ..}, ..]`, recursively.
#[derive(Debug, Clone, Copy, Default)]
pub struct Portable;

impl Transform for Portable {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        let Some(Value::Array(types)) = obj.get("type").cloned() else {
            return;
        };
        obj.remove("type");
        // Keywords that only apply to one of the types move into that branch.
        let mut branches = Vec::new();
        for t in types {
            let mut branch = Map::new();
            let keys: &[&str] = match t.as_str() {
                Some("string") => &["format", "minLength", "maxLength", "pattern"],
                Some("array") => &["items", "minItems", "maxItems", "uniqueItems"],
                Some("integer" | "number") => {
                    &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
                }
                Some("object") => &["properties", "required", "additionalProperties"],
                _ => &[],
            };
            for key in keys {
                if let Some(v) = obj.get(*key) {
                    branch.insert((*key).to_owned(), v.clone());
                }
            }
            branch.insert("type".into(), t);
            branches.push(Value::Object(branch));
        }
        for key in [
            "format",
            "minLength",
            "maxLength",
            "pattern",
            "items",
            "minItems",
            "maxItems",
            "uniqueItems",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "properties",
            "required",
            "additionalProperties",
        ] {
            obj.remove(key);
        }
        // `enum` with `null` (an optional enum) stays valid alongside the anyOf.
        obj.insert("anyOf".into(), Value::Array(branches));
    }
}

/// JSON Schema 2020-12 settings (what MCP and OpenAPI 3.1 use), portable, with definitions
/// under `$defs` and no `$schema` keyword: MCP 2025-11-25 ("JSON Schema Usage") reads a schema
/// without `$schema` as 2020-12, while a draft-07 validator built the way the TypeScript SDK's
/// docs show (`new Ajv({ strict: true })`) refuses the 2020-12 meta-schema URI it does not know.
pub fn settings() -> SchemaSettings {
    let mut settings = SchemaSettings::draft2020_12().with_transform(Portable);
    settings.meta_schema = None;
    settings
}

/// A generator with [`settings`].
pub fn generator() -> SchemaGenerator {
    settings().into_generator()
}

/// The portable 2020-12 schema of `T`, definitions inlined under `$defs`.
pub fn schema_for<T: JsonSchema>() -> Schema {
    generator().into_root_schema_for::<T>()
}

/// True when `schema` has a `type` array anywhere (what [`Portable`] removes).
pub fn has_type_array(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            matches!(map.get("type"), Some(Value::Array(_))) || map.values().any(has_type_array)
        }
        Value::Array(items) => items.iter().any(has_type_array),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Sample {
        a: Option<String>,
        #[schemars(length(max = 3))]
        b: Option<Vec<String>>,
        c: Option<crate::Priority>,
    }

    #[test]
    fn no_type_arrays_survive() {
        let raw = schemars::schema_for!(Sample);
        assert!(
            has_type_array(raw.as_value()),
            "schemars writes type arrays"
        );
        let portable = schema_for::<Sample>();
        assert!(!has_type_array(portable.as_value()), "{portable:?}");
        let b = &portable.as_value()["properties"]["b"];
        assert_eq!(b["anyOf"][0]["type"], "array");
        assert_eq!(b["anyOf"][0]["maxItems"], 3);
        assert_eq!(b["anyOf"][1]["type"], "null");
    }
}
