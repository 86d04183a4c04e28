//! Data schemas from schemars, made to fit the TD's data-schema vocabulary.

use serde_json::{Map, Value, json};

use super::DataSchema;
use crate::thing::SchemaFn;

/// A generator for draft-07 schemas with every subschema inlined, so each affordance stands alone.
pub(super) fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft07()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
}

/// The data schema `f` makes, tidied (a boolean schema becomes the object `{"allOf": [true]}`).
pub(super) fn data_schema(f: SchemaFn, generator: &mut schemars::SchemaGenerator) -> DataSchema {
    let mut value = f(generator).to_value();
    if let Value::Object(map) = &mut value {
        map.remove("$schema");
    }
    tidy(&mut value);
    DataSchema::from(value)
}

/// Makes a schemars schema fit the TD's data-schema vocabulary:
///
/// * `"type": ["number", "null"]` (how schemars spells `Option<f64>`) becomes
///   `"oneOf": [{"type": "number", …}, {"type": "null"}]`, as hololinked writes it: a TD `type` is one string;
/// * `format` annotations that are not JSON Schema formats (`uint32`, `double`, …) are dropped: they mean
///   nothing to other tools, and the bounds already say what they would.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let known = |f: &str| {
                matches!(
                    f,
                    "date-time"
                        | "date"
                        | "time"
                        | "duration"
                        | "email"
                        | "hostname"
                        | "ipv4"
                        | "ipv6"
                        | "uri"
                        | "uri-reference"
                        | "uuid"
                )
            };
            if map.get("format").and_then(Value::as_str).is_some_and(|f| !known(f)) {
                map.remove("format");
            }
            if let Some(Value::Array(types)) = map.get("type").cloned() {
                split_type_array(map, types);
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// Annotations stay on the outer schema when a type array is split.
const ANNOTATIONS: &[&str] =
    &["title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment"];

fn split_type_array(map: &mut Map<String, Value>, types: Vec<Value>) {
    map.remove("type");
    let keys: Vec<String> = map.keys().filter(|k| !ANNOTATIONS.contains(&k.as_str())).cloned().collect();
    let constraints: Map<String, Value> = keys.iter().filter_map(|k| map.remove(k).map(|v| (k.clone(), v))).collect();
    let branches = types
        .into_iter()
        .map(|t| {
            if t == "null" {
                json!({"type": "null"})
            } else {
                let mut branch = constraints.clone();
                // An `enum` listing `null` keeps it only on the null branch.
                if let Some(Value::Array(values)) = branch.get_mut("enum") {
                    values.retain(|v| !v.is_null());
                }
                branch.insert("type".into(), t);
                Value::Object(branch)
            }
        })
        .collect();
    map.insert("oneOf".into(), Value::Array(branches));
}
