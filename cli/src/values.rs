//! Values typed on the command line, read with the Thing Description's JSON Schema: a number where a number
//! is expected, the raw text where a string is, JSON for objects and arrays, and JSON always.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::suggest;

/// Parses `text` for a value described by `schema` (`None`: no schema known, JSON or else the raw text).
/// The error says what was expected, e.g. "expects a number, got `abc`".
pub fn parse(text: &str, schema: Option<&Value>) -> Result<Value, String> {
    let json = serde_json::from_str::<Value>(text).ok();
    let Some(schema) = schema else {
        return Ok(json.unwrap_or_else(|| Value::String(text.to_owned())));
    };
    let types = types_of(schema);
    let value = match json {
        Some(v) if types.is_empty() || types.iter().any(|t| fits(&v, t)) => v,
        _ if types.is_empty() || types.iter().any(|t| t == "string") => Value::String(text.to_owned()),
        _ => {
            let hint = if types.iter().any(|t| t == "object" || t == "array") {
                " (objects and arrays are written as JSON, e.g. '{\"min\": 0, \"max\": 1}' or '[1, 2]')"
            } else {
                ""
            };
            return Err(format!("expects {}, got `{text}`{hint}", describe_types(&types)));
        }
    };
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(&value)
    {
        let list: Vec<String> = allowed.iter().map(short).collect();
        return Err(format!("expects one of {}, got `{text}`", list.join(", ")));
    }
    Ok(value)
}

/// The JSON types a schema allows (`type` as a string or a list, `oneOf`/`anyOf` branches, `enum`/`const`
/// values); empty when it does not say.
pub fn types_of(schema: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |t: &str| {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    };
    match schema.get("type") {
        Some(Value::String(t)) => add(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).for_each(&mut add),
        _ => {}
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            for branch in branches {
                for t in types_of(branch) {
                    add(&t);
                }
            }
        }
    }
    let constants = schema.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
    for v in constants.iter().chain(schema.get("const")) {
        add(json_type(v));
    }
    out
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fits(v: &Value, t: &str) -> bool {
    match t {
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn describe_types(types: &[String]) -> String {
    let words: Vec<&str> = types
        .iter()
        .map(|t| match t.as_str() {
            "integer" => "an integer",
            "number" => "a number",
            "string" => "a string",
            "boolean" => "true or false",
            "null" => "null",
            "array" => "a JSON array",
            "object" => "a JSON object",
            other => other,
        })
        .collect();
    words.join(" or ")
}

/// A short, one-line rendering of a JSON value (strings in backticks, not quoted).
pub fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// Builds an action's keyword arguments from `name=value` and positional words, in the order of the
/// action's `input` schema, starting from the object given with `--args` (if any).
pub fn action_args(
    action: &str,
    input: Option<&Value>,
    base: Option<Map<String, Value>>,
    words: &[String],
) -> Result<Map<String, Value>, String> {
    let params: Option<&Map<String, Value>> = input.and_then(|i| i.get("properties")).and_then(Value::as_object);
    let names: Vec<&str> = params.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
    let listing = || signature(input);
    let mut args = base.unwrap_or_default();
    let mut next_positional = 0usize;
    let mut given: Vec<String> = Vec::new();
    for word in words {
        let named = word.split_once('=').filter(|(name, _)| is_identifier(name));
        let (name, text) = match named {
            Some((name, text)) => {
                if params.is_some() && !names.contains(&name) {
                    return Err(match suggest::closest(name, names.iter().copied()) {
                        Some(s) => format!("`{action}` has no argument `{name}`, did you mean `{s}`? ({})", listing()),
                        None if names.is_empty() => format!("`{action}` takes no arguments"),
                        None => format!("`{action}` has no argument `{name}` ({})", listing()),
                    });
                }
                (name.to_owned(), text)
            }
            None => {
                // Positional: the next parameter not given by name yet.
                while next_positional < names.len() && args.contains_key(names[next_positional]) {
                    next_positional += 1;
                }
                let Some(name) = names.get(next_positional) else {
                    return Err(if names.is_empty() {
                        format!("`{action}` takes no arguments, got `{word}`")
                    } else {
                        format!("too many values for `{action}` at `{word}` ({}); name them as name=value", listing())
                    });
                };
                next_positional += 1;
                ((*name).to_owned(), word.as_str())
            }
        };
        if given.contains(&name) {
            return Err(format!("argument `{name}` of `{action}` is given twice"));
        }
        given.push(name.clone());
        let schema = params.and_then(|p| p.get(&name));
        let value = parse(text, schema).map_err(|e| format!("argument `{name}` of `{action}` {e}"))?;
        args.insert(name, value);
    }
    if let Some(Value::Array(required)) = input.and_then(|i| i.get("required")) {
        let missing: Vec<&str> = required.iter().filter_map(Value::as_str).filter(|r| !args.contains_key(*r)).collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            let s = if missing.len() == 1 { "" } else { "s" };
            return Err(format!("`{action}` needs argument{s} {} ({})", list.join(", "), listing()));
        }
    }
    Ok(args)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// "arguments: a: number, b: number" for an action's input schema.
pub fn signature(input: Option<&Value>) -> String {
    let Some(params) = input.and_then(|i| i.get("properties")).and_then(Value::as_object) else {
        return "it takes no arguments".into();
    };
    if params.is_empty() {
        return "it takes no arguments".into();
    }
    let required: Vec<&str> = input
        .and_then(|i| i.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let list: Vec<String> = params
        .iter()
        .map(|(name, schema)| {
            let optional = if required.contains(&name.as_str()) { "" } else { "?" };
            format!("{name}{optional}: {}", type_label(schema))
        })
        .collect();
    format!("arguments: {}", list.join(", "))
}

/// A compact type label for a schema: `number`, `string`, `"a" | "b"`, `array of number`, `any`.
pub fn type_label(schema: &Value) -> String {
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    let types = types_of(schema);
    if types.is_empty() {
        return "any".into();
    }
    types
        .iter()
        .map(|t| match (t.as_str(), schema.get("items"), schema.get("properties").and_then(Value::as_object)) {
            ("array", Some(items), _) => format!("array of {}", type_label(items)),
            ("object", _, Some(fields)) if !fields.is_empty() && fields.len() <= 6 => {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {}", type_label(v))).collect();
                format!("{{{}}}", fields.join(", "))
            }
            _ => t.clone(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Parses a duration: `250ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. 500ms, 10s, 1.5s, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit `{other}` in `{text}`; use ms, s, m or h")),
    };
    if seconds <= 0.0 || !seconds.is_finite() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// A time limit: a duration, or `none` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Duration>);

/// Parses a [`Limit`]: a duration (see [`parse_duration`]) or `none`/`never`/`inf`.
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" | "never" | "inf" | "infinite" | "forever" => Ok(Limit(None)),
        _ => parse_duration(text).map(|d| Limit(Some(d))),
    }
}

/// Renders a duration the way people type it: `500ms`, `10s`, `1.5s`.
pub fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_follow_the_schema() {
        let number = json!({"type": "number"});
        assert_eq!(parse("2.5", Some(&number)), Ok(json!(2.5)));
        assert_eq!(parse("abc", Some(&number)), Err("expects a number, got `abc`".into()));
        let string = json!({"type": "string"});
        assert_eq!(parse("hello world", Some(&string)), Ok(json!("hello world")));
        assert_eq!(parse("123", Some(&string)), Ok(json!("123")), "a string stays text");
        assert_eq!(parse("\"quoted\"", Some(&string)), Ok(json!("quoted")), "JSON is always accepted");
        let integer = json!({"type": "integer"});
        assert_eq!(parse("7", Some(&integer)), Ok(json!(7)));
        assert!(parse("7.5", Some(&integer)).unwrap_err().contains("an integer"));
        let array = json!({"type": "array", "items": {"type": "number"}});
        assert_eq!(parse("[1, 2]", Some(&array)), Ok(json!([1, 2])));
        assert!(parse("1,2", Some(&array)).unwrap_err().contains("written as JSON"));
        let mode = json!({"type": "string", "enum": ["internal", "external"]});
        assert_eq!(parse("external", Some(&mode)), Ok(json!("external")));
        assert_eq!(parse("sideways", Some(&mode)), Err("expects one of `internal`, `external`, got `sideways`".into()));
        let optional = json!({"oneOf": [{"type": "string"}, {"type": "null"}]});
        assert_eq!(parse("null", Some(&optional)), Ok(json!(null)));
        assert_eq!(parse("idle", Some(&optional)), Ok(json!("idle")));
        assert_eq!(parse("{\"a\": 1}", None), Ok(json!({"a": 1})));
        assert_eq!(parse("plain", None), Ok(json!("plain")));
        assert_eq!(parse("true", Some(&json!({"type": "boolean"}))), Ok(json!(true)));
    }

    #[test]
    fn action_arguments_by_name_and_position() {
        let input = json!({"type": "object", "properties": {"values": {"type": "array", "items": {"type": "number"}},
            "factor": {"type": "number"}, "label": {"type": "string"}}, "required": ["values"]});
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let args = action_args("scale", Some(&input), None, &words(&["values=[1,2]", "factor=3", "label=a b"]));
        assert_eq!(Value::Object(args.expect("parses")), json!({"values": [1, 2], "factor": 3, "label": "a b"}));
        let args = action_args("scale", Some(&input), None, &words(&["[1]", "2"]));
        assert_eq!(Value::Object(args.expect("parses")), json!({"values": [1], "factor": 2}));
        let args = action_args("scale", Some(&input), None, &words(&["factor=2", "[1]"]));
        assert_eq!(Value::Object(args.expect("parses")), json!({"factor": 2, "values": [1]}));
        let err = action_args("scale", Some(&input), None, &words(&["vaules=[1]"])).unwrap_err();
        assert!(err.contains("no argument `vaules`, did you mean `values`?"), "{err}");
        let err = action_args("scale", Some(&input), None, &words(&["factor=2"])).unwrap_err();
        assert!(err.contains("needs argument `values`"), "{err}");
        let err = action_args("scale", Some(&input), None, &words(&["factor=x", "values=[1]"])).unwrap_err();
        assert_eq!(err, "argument `factor` of `scale` expects a number, got `x`");
        let err = action_args("stop", None, None, &words(&["1"])).unwrap_err();
        assert!(err.contains("takes no arguments"), "{err}");
        let base = json!({"values": [5]}).as_object().cloned();
        let args = action_args("scale", Some(&input), base, &words(&["2"]));
        assert_eq!(Value::Object(args.expect("parses")), json!({"values": [5], "factor": 2}));
    }

    #[test]
    fn type_labels() {
        assert_eq!(type_label(&json!({"type": "number"})), "number");
        assert_eq!(type_label(&json!({"type": "array", "items": {"type": "integer"}})), "array of integer");
        assert_eq!(type_label(&json!({"enum": ["a", "b"]})), "\"a\" | \"b\"");
        let object = json!({"type": "object", "properties": {"min": {"type": "number"}, "max": {"type": "number"}}});
        assert_eq!(type_label(&object), "{min: number, max: number}");
        assert_eq!(type_label(&json!({"oneOf": [{"type": "string"}, {"type": "null"}]})), "string | null");
        assert_eq!(type_label(&json!({})), "any");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_limit("none"), Ok(Limit(None)));
        assert_eq!(human_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(human_duration(Duration::from_secs(10)), "10s");
    }
}
