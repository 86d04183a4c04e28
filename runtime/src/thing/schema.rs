//! A small JSON Schema checker for the data schemas in Thing Descriptions (the vocabulary thingwire and
//! hololinked write: `type`, bounds, lengths, `enum`/`const`, `items`, `properties`/`required`,
//! `additionalProperties`, `oneOf`/`anyOf`/`allOf`). Clients use it to refuse a bad value before sending
//! it; it is not a full validator (no `$ref`, `pattern` or formats).

use serde_json::Value;

/// Checks `value` against `schema`; the error names where and what is wrong, e.g.
/// ``/offset: 9 is more than the maximum 5``.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, "")
}

fn here(path: &str) -> &str {
    if path.is_empty() { "the value" } else { path }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(expected: &str, value: &Value) -> bool {
    let actual = type_of(value);
    expected == actual || (expected == "number" && actual == "integer")
}

fn check_at(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let Value::Object(s) = schema else { return Ok(()) };
    match s.get("type") {
        Some(Value::String(t)) if !matches_type(t, value) => {
            return Err(format!("{}: expected {t}, got {} {value}", here(path), type_of(value)));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t.as_str().is_some_and(|t| matches_type(t, value))) => {
            return Err(format!(
                "{}: expected one of {}, got {} {value}",
                here(path),
                Value::Array(types.clone()),
                type_of(value)
            ));
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = s.get("enum")
        && !allowed.contains(value)
    {
        return Err(format!("{}: {value} is not one of {}", here(path), Value::Array(allowed.clone())));
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        return Err(format!("{}: expected {c}, got {value}", here(path)));
    }
    if let Some(n) = value.as_f64() {
        let bound = |k: &str| s.get(k).and_then(Value::as_f64);
        if let Some(m) = bound("minimum").filter(|m| n < *m) {
            return Err(format!("{}: {value} is less than the minimum {m}", here(path)));
        }
        if let Some(m) = bound("maximum").filter(|m| n > *m) {
            return Err(format!("{}: {value} is more than the maximum {m}", here(path)));
        }
        if let Some(m) = bound("exclusiveMinimum").filter(|m| n <= *m) {
            return Err(format!("{}: {value} must be greater than {m}", here(path)));
        }
        if let Some(m) = bound("exclusiveMaximum").filter(|m| n >= *m) {
            return Err(format!("{}: {value} must be less than {m}", here(path)));
        }
        if let Some(m) = bound("multipleOf").filter(|m| *m != 0.0 && ((n / m) - (n / m).round()).abs() > 1e-9) {
            return Err(format!("{}: {value} is not a multiple of {m}", here(path)));
        }
    }
    let length = |k: &str| s.get(k).and_then(Value::as_u64).map(|n| n as usize);
    if let Value::String(text) = value {
        let n = text.chars().count();
        if let Some(m) = length("minLength").filter(|m| n < *m) {
            return Err(format!("{}: the text is shorter than {m} characters", here(path)));
        }
        if let Some(m) = length("maxLength").filter(|m| n > *m) {
            return Err(format!("{}: the text is longer than {m} characters", here(path)));
        }
    }
    if let Value::Array(items) = value {
        if let Some(m) = length("minItems").filter(|m| items.len() < *m) {
            return Err(format!("{}: {} items, fewer than the {m} required", here(path), items.len()));
        }
        if let Some(m) = length("maxItems").filter(|m| items.len() > *m) {
            return Err(format!("{}: {} items, more than the {m} allowed", here(path), items.len()));
        }
        match s.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (item, schema)) in items.iter().zip(tuple).enumerate() {
                    check_at(schema, item, &format!("{path}/{i}"))?;
                }
            }
            Some(item_schema) => {
                for (i, item) in items.iter().enumerate() {
                    check_at(item_schema, item, &format!("{path}/{i}"))?;
                }
            }
            None => {}
        }
    }
    if let Value::Object(fields) = value {
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(r) {
                    return Err(format!("{}: `{r}` is required", here(path)));
                }
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (k, v) in fields {
            match properties.and_then(|p| p.get(k)) {
                Some(schema) => check_at(schema, v, &format!("{path}/{k}"))?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let known: Vec<&str> =
                            properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        return Err(match crate::suggest::closest(k, known.iter().copied()) {
                            Some(g) => format!("{}: unknown key `{k}`, did you mean `{g}`?", here(path)),
                            None => format!("{}: unknown key `{k}`; expected {}", here(path), known.join(", ")),
                        });
                    }
                    Some(extra @ Value::Object(_)) => check_at(extra, v, &format!("{path}/{k}"))?,
                    _ => {}
                },
            }
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            check_at(sub, value, path)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = s.get(key) {
            let mut reasons = Vec::new();
            if !options.iter().any(|o| match check_at(o, value, path) {
                Ok(()) => true,
                Err(e) => {
                    reasons.push(e);
                    false
                }
            }) {
                return Err(match reasons.as_slice() {
                    [one] => one.clone(),
                    _ => format!("{}: {value} matches none of the allowed forms ({})", here(path), reasons.join("; ")),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn checks_what_tds_say() {
        let s = json!({"type": "object", "properties": {
            "offset": {"type": "number", "minimum": -5, "maximum": 5},
            "unit": {"type": "string", "enum": ["V", "mV"]},
            "channels": {"type": "array", "items": {"type": "integer"}, "maxItems": 2},
            "label": {"oneOf": [{"type": "string"}, {"type": "null"}]}
        }, "required": ["offset"], "additionalProperties": false});
        assert!(check(&s, &json!({"offset": 1, "unit": "V", "channels": [1, 2], "label": null})).is_ok());
        let bad = [
            (json!({}), "`offset` is required"),
            (json!({"offset": 9}), "/offset: 9 is more than the maximum 5"),
            (json!({"offset": "x"}), "/offset: expected number, got string"),
            (json!({"offset": 1, "unit": "A"}), "is not one of"),
            (json!({"offset": 1, "channels": [1, 2, 3]}), "more than the 2 allowed"),
            (json!({"offset": 1, "channels": [1.5]}), "/channels/0: expected integer"),
            (json!({"offset": 1, "label": 3}), "matches none"),
            (json!({"offst": 1}), "`offset` is required"),
            (json!({"offset": 1, "unti": "V"}), "did you mean `unit`"),
        ];
        for (value, expected) in bad {
            let err = check(&s, &value).expect_err("must fail");
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
