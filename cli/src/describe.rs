//! Reading a Thing Description: finding a property, action or event by name (with suggestions and hints
//! when the name is wrong), and a summary for people.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::suggest;
use crate::values::{signature, type_label};

/// The affordances of a Thing, as its Thing Description (or Thing Model) lists them.
#[derive(Debug, Clone)]
pub struct Affordances<'a> {
    thing: &'a str,
    td: &'a Value,
}

/// Which kind of affordance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `properties`.
    Property,
    /// `actions`.
    Action,
    /// `events`.
    Event,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Self::Property => "properties",
            Self::Action => "actions",
            Self::Event => "events",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Property => "property",
            Self::Action => "action",
            Self::Event => "event",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Self::Property => "read/write",
            Self::Action => "call",
            Self::Event => "watch",
        }
    }
}

/// What `watch` subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The event name on the wire (`<prop>_change_event` for a property).
    pub event: String,
    /// The property, when watching an observable property.
    pub property: Option<String>,
}

impl<'a> Affordances<'a> {
    /// The affordances of Thing `thing` described by `td`.
    pub fn new(thing: &'a str, td: &'a Value) -> Self {
        Self { thing, td }
    }

    fn map(&self, kind: Kind) -> Option<&'a Map<String, Value>> {
        self.td.get(kind.key()).and_then(Value::as_object)
    }

    fn names(&self, kind: Kind) -> Vec<&'a str> {
        self.map(kind).map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    /// The schema of `name` of `kind`, or an error that suggests the closest name, lists the names there are,
    /// and points to the right command when `name` is another kind of affordance.
    pub fn find(&self, kind: Kind, name: &str) -> Result<&'a Value, Failure> {
        if let Some(found) = self.map(kind).and_then(|m| m.get(name)) {
            return Ok(found);
        }
        Err(self.unknown(kind, name, &self.names(kind)))
    }

    fn unknown(&self, kind: Kind, name: &str, names: &[&str]) -> Failure {
        let thing = self.thing;
        let word = kind.word();
        let mut failure = match suggest::closest(name, names.iter().copied()) {
            Some(s) => Failure::failed(format!("`{thing}` has no {word} `{name}`; did you mean `{s}`?")),
            None => Failure::failed(format!("`{thing}` has no {word} `{name}`")),
        };
        for other in [Kind::Property, Kind::Action, Kind::Event] {
            if other != kind && self.map(other).is_some_and(|m| m.contains_key(name)) {
                failure = failure.detail(format!(
                    "`{name}` is {} {}: use `thingwire {}`",
                    if other == Kind::Action { "an" } else { "a" },
                    other.word(),
                    other.command()
                ));
            }
        }
        if names.is_empty() {
            failure.detail(format!("`{thing}` has no {}", kind.key()))
        } else {
            failure.detail(format!("{} of `{thing}`: {}", kind.key(), names.join(", ")))
        }
    }

    /// A property's schema, for reading.
    pub fn property(&self, name: &str) -> Result<&'a Value, Failure> {
        self.find(Kind::Property, name)
    }

    /// A property's schema, for writing: fails for read-only properties.
    pub fn writable_property(&self, name: &str) -> Result<&'a Value, Failure> {
        let schema = self.property(name)?;
        if schema.get("readOnly").and_then(Value::as_bool) == Some(true) {
            let writable: Vec<&str> = self
                .map(Kind::Property)
                .into_iter()
                .flatten()
                .filter(|(_, s)| s.get("readOnly").and_then(Value::as_bool) != Some(true))
                .map(|(n, _)| n.as_str())
                .collect();
            let failure = Failure::failed(format!("property `{name}` of `{}` is read-only", self.thing));
            return Err(if writable.is_empty() {
                failure
            } else {
                failure.detail(format!("writable properties of `{}`: {}", self.thing, writable.join(", ")))
            });
        }
        Ok(schema)
    }

    /// An action's description.
    pub fn action(&self, name: &str) -> Result<&'a Value, Failure> {
        self.find(Kind::Action, name)
    }

    /// What to subscribe to for `name`: an event, an observable property, or `<prop>_change_event`.
    pub fn watched(&self, name: &str) -> Result<Watched, Failure> {
        if self.map(Kind::Event).is_some_and(|m| m.contains_key(name)) {
            return Ok(Watched { event: name.to_owned(), property: None });
        }
        let property = name.strip_suffix("_change_event").unwrap_or(name);
        if let Some(schema) = self.map(Kind::Property).and_then(|m| m.get(property)) {
            if schema.get("observable").and_then(Value::as_bool) == Some(true) {
                return Ok(Watched { event: format!("{property}_change_event"), property: Some(property.to_owned()) });
            }
            let observable = self.observable();
            let failure = Failure::failed(format!(
                "property `{property}` of `{}` is not observable: the server publishes no changes of it",
                self.thing
            ));
            return Err(if observable.is_empty() {
                failure.detail(format!("`thingwire read` polls it; `{}` has no observable properties", self.thing))
            } else {
                failure.detail(format!("observable properties of `{}`: {}", self.thing, observable.join(", ")))
            });
        }
        let mut names = self.names(Kind::Event);
        names.extend(self.observable());
        let thing = self.thing;
        let failure = match suggest::closest(name, names.iter().copied()) {
            Some(s) => {
                Failure::failed(format!("`{thing}` has no event or observable property `{name}`; did you mean `{s}`?"))
            }
            None => Failure::failed(format!("`{thing}` has no event or observable property `{name}`")),
        };
        Err(if names.is_empty() {
            failure.detail(format!("`{thing}` has no events and no observable properties"))
        } else {
            failure.detail(format!("events and observable properties of `{thing}`: {}", names.join(", ")))
        })
    }

    fn observable(&self) -> Vec<&'a str> {
        self.map(Kind::Property)
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.get("observable").and_then(Value::as_bool) == Some(true))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// A summary for people: title, description, then one line per property, action and event.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let title = self.td.get("title").and_then(Value::as_str).unwrap_or(self.thing);
        let _ = writeln!(out, "{} ({title})", self.thing);
        if let Some(d) = self.td.get("description").and_then(Value::as_str).filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "  {d}");
        }
        let section = |out: &mut String, kind: Kind, line: &Row<'_>| {
            let Some(map) = self.map(kind).filter(|m| !m.is_empty()) else { return };
            let _ = writeln!(out, "\n{}:", kind.key());
            for (name, value) in map {
                let (left, description) = line(name, value);
                let _ = writeln!(out, "  {left}");
                if let Some(d) = description {
                    let _ = writeln!(out, "      {d}");
                }
            }
        };
        section(&mut out, Kind::Property, &|name, schema| {
            let mut facts = vec![type_label(schema)];
            let bound = |k: &str| schema.get(k).map(Value::to_string);
            match (bound("minimum"), bound("maximum")) {
                (Some(lo), Some(hi)) => facts.push(format!("{lo}..{hi}")),
                (Some(lo), None) => facts.push(format!(">= {lo}")),
                (None, Some(hi)) => facts.push(format!("<= {hi}")),
                (None, None) => {}
            }
            if let Some(unit) = schema.get("unit").and_then(Value::as_str) {
                facts.push(unit.to_owned());
            }
            if schema.get("readOnly").and_then(Value::as_bool) == Some(true) {
                facts.push("read-only".into());
            }
            if schema.get("observable").and_then(Value::as_bool) == Some(true) {
                facts.push("observable".into());
            }
            (format!("{name}: {}", facts.join(", ")), description(schema))
        });
        section(&mut out, Kind::Action, &|name, action| {
            let args = signature(action.get("input"));
            let args = args.strip_prefix("arguments: ").unwrap_or("");
            let output = action.get("output").map(|o| format!(" -> {}", type_label(o))).unwrap_or_default();
            (format!("{name}({args}){output}"), description(action))
        });
        section(&mut out, Kind::Event, &|name, event| {
            let data = event.get("data").map(|d| format!(": {}", type_label(d))).unwrap_or_default();
            (format!("{name}{data}"), description(event))
        });
        out
    }
}

/// One summary row of an affordance: the left column and an optional description.
type Row<'a> = dyn Fn(&str, &Value) -> (String, Option<String>) + 'a;

/// The first line of a description, cut at [`DESCRIPTION_WIDTH`] characters.
fn description(v: &Value) -> Option<String> {
    let d = v.get("description").and_then(Value::as_str)?.trim();
    let first = d.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return None;
    }
    if first.chars().count() <= DESCRIPTION_WIDTH {
        return Some(first.to_owned());
    }
    let cut: String = first.chars().take(DESCRIPTION_WIDTH - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}

/// How much of a description a summary shows.
const DESCRIPTION_WIDTH: usize = 90;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn td() -> Value {
        json!({
            "title": "Sensor",
            "properties": {
                "gain": {"type": "number", "minimum": 0.1, "maximum": 100, "observable": true},
                "serial": {"type": "string", "readOnly": true},
                "mode": {"type": "string"}
            },
            "actions": {"add": {"input": {"type": "object", "properties": {"a": {"type": "number"}}}}},
            "events": {"tick": {"data": {"type": "object"}}}
        })
    }

    #[test]
    fn unknown_names_get_suggestions_and_hints() {
        let td = td();
        let a = Affordances::new("sensor", &td);
        let err = a.property("gian").unwrap_err();
        assert_eq!(err.message, "`sensor` has no property `gian`; did you mean `gain`?");
        assert_eq!(err.details, ["properties of `sensor`: gain, serial, mode"]);
        let err = a.property("add").unwrap_err();
        assert!(err.details[0].contains("`add` is an action: use `thingwire call`"), "{err:?}");
        let err = a.writable_property("serial").unwrap_err();
        assert!(err.message.contains("read-only"), "{err:?}");
        assert!(a.action("ad").unwrap_err().message.contains("did you mean `add`?"));
    }

    #[test]
    fn watch_targets() {
        let td = td();
        let a = Affordances::new("sensor", &td);
        assert_eq!(a.watched("tick").expect("event").event, "tick");
        let gain = a.watched("gain").expect("observable");
        assert_eq!((gain.event.as_str(), gain.property.as_deref()), ("gain_change_event", Some("gain")));
        assert_eq!(a.watched("gain_change_event").expect("topic").event, "gain_change_event");
        assert!(a.watched("mode").unwrap_err().message.contains("not observable"));
        assert!(a.watched("tik").unwrap_err().message.contains("did you mean `tick`?"));
    }

    #[test]
    fn summary_lists_everything() {
        let td = td();
        let s = Affordances::new("sensor", &td).summary();
        assert!(s.contains("gain: number, 0.1..100, observable"), "{s}");
        assert!(s.contains("serial: string, read-only"), "{s}");
        assert!(s.contains("add(a?: number)"), "{s}");
        assert!(s.contains("tick: object"), "{s}");
    }
}
