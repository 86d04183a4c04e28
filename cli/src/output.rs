//! Printing values on stdout: readable by default, JSON with `--json`.

use serde_json::Value;

/// A value for people: strings as their text, scalars as JSON, objects and arrays as indented JSON.
pub fn human(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()),
        other => other.to_string(),
    }
}

/// A value on one line: JSON, strings quoted (so an event stream stays unambiguous).
pub fn one_line(value: &Value) -> String {
    value.to_string()
}

/// Raw bytes (a reply or event carried in the preserialized frame), for both kinds of output: a JSON object
/// `{"bytes": <length>, "hex": "…"}`.
pub fn bytes(data: &[u8]) -> Value {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({ "bytes": data.len(), "hex": hex })
}

/// The local time for people, `2024-05-01 14:03:07.412`.
pub fn local_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// UTC in RFC 3339 with milliseconds, for scripts: `2024-05-01T12:03:07.412Z`.
pub fn utc_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn human_values() {
        assert_eq!(human(&json!("SN-001")), "SN-001");
        assert_eq!(human(&json!(2.5)), "2.5");
        assert_eq!(human(&json!(null)), "null");
        assert_eq!(human(&json!([1, 2])), "[\n  1,\n  2\n]");
        assert_eq!(bytes(&[1, 255]), json!({"bytes": 2, "hex": "01ff"}));
    }
}
