//! Thing Descriptions (W3C WoT TD 1.1), built from a Thing's static [`ThingDescriptor`] and the addresses
//! it is served on. A TD is a pure function of those two, so it can be produced without a running server.

use serde_json::{Map, Value, json};

use crate::thing::{ExecutionMode, SchemaFn, ThingDescriptor};
use crate::transport::BoundAddresses;

/// The TD 1.1 context URI.
pub const TD_CONTEXT: &str = "https://www.w3.org/2022/wot/td/v1.1";

/// Content types every form offers.
const CONTENT_TYPE: &str = "application/json";

/// What to put in a TD.
#[derive(Debug, Clone, Default)]
pub struct TdOptions<'a> {
    /// Names to leave out (hololinked's `skip_names`).
    pub skip_names: &'a [String],
}

fn schema_value(f: SchemaFn, generator: &mut schemars::SchemaGenerator) -> Value {
    let mut value = f(generator).to_value();
    if let Value::Object(map) = &mut value {
        map.remove("$schema");
        map.remove("title");
    }
    value
}

fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft07()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
}

/// Builds the Thing Description of `descriptor` served as `thing_id`, with forms for `addresses` (no forms:
/// the Thing Model).
pub fn thing_description(
    descriptor: &ThingDescriptor,
    thing_id: &str,
    addresses: Option<&BoundAddresses>,
    options: &TdOptions<'_>,
) -> Value {
    let mut generator = generator();
    let skip = |name: &str| options.skip_names.iter().any(|s| s == name);
    let form = |href: &str, op: &str| json!({"href": href, "op": op, "contentType": CONTENT_TYPE});

    let mut properties = Map::new();
    for p in descriptor.properties.iter().filter(|p| !skip(p.name)) {
        let mut entry = match schema_value(p.schema, &mut generator) {
            Value::Object(m) => m,
            other => Map::from_iter([("oneOf".to_owned(), Value::Array(vec![other]))]),
        };
        put_texts(&mut entry, p.title, p.description);
        if p.read_only {
            entry.insert("readOnly".into(), Value::Bool(true));
        }
        if p.observable {
            entry.insert("observable".into(), Value::Bool(true));
        }
        if let Some(unit) = p.unit {
            entry.insert("unit".into(), Value::String(unit.into()));
        }
        if let Some(a) = addresses {
            let mut forms = vec![form(&a.request_href, "readproperty")];
            if !p.read_only {
                forms.push(form(&a.request_href, "writeproperty"));
            }
            if p.observable {
                forms.push(form(&a.event_href, "observeproperty"));
            }
            entry.insert("forms".into(), Value::Array(forms));
        }
        properties.insert(p.name.into(), Value::Object(entry));
    }

    let mut actions = Map::new();
    for a in descriptor.actions.iter().filter(|a| !skip(a.name)) {
        let mut entry = Map::new();
        put_texts(&mut entry, a.title, a.description);
        if let Some(input) = a.input {
            entry.insert("input".into(), schema_value(input, &mut generator));
        }
        if let Some(output) = a.output {
            entry.insert("output".into(), schema_value(output, &mut generator));
        }
        entry.insert("safe".into(), Value::Bool(a.safe));
        entry.insert("idempotent".into(), Value::Bool(a.idempotent));
        entry.insert("synchronous".into(), Value::Bool(a.mode == ExecutionMode::Queued));
        if let Some(addr) = addresses {
            entry.insert("forms".into(), json!([form(&addr.request_href, "invokeaction")]));
        }
        actions.insert(a.name.into(), Value::Object(entry));
    }

    let mut events = Map::new();
    for e in descriptor.events.iter().filter(|e| !skip(e.name)) {
        let mut entry = Map::new();
        put_texts(&mut entry, e.title, e.description);
        if let Some(data) = e.data {
            entry.insert("data".into(), schema_value(data, &mut generator));
        }
        if let Some(addr) = addresses {
            entry.insert("forms".into(), json!([form(&addr.event_href, "subscribeevent")]));
        }
        events.insert(e.name.into(), Value::Object(entry));
    }

    let mut td = Map::new();
    td.insert("@context".into(), json!([TD_CONTEXT]));
    td.insert("id".into(), Value::String(thing_id.to_owned()));
    td.insert("title".into(), Value::String(descriptor.title.to_owned()));
    if let Some(d) = descriptor.description {
        td.insert("description".into(), Value::String(d.to_owned()));
    }
    td.insert("securityDefinitions".into(), json!({"nosec_sc": {"scheme": "nosec"}}));
    td.insert("security".into(), json!("nosec_sc"));
    td.insert("properties".into(), Value::Object(properties));
    td.insert("actions".into(), Value::Object(actions));
    td.insert("events".into(), Value::Object(events));
    Value::Object(td)
}

fn put_texts(entry: &mut Map<String, Value>, title: Option<&str>, description: Option<&str>) {
    if let Some(t) = title {
        entry.insert("title".into(), Value::String(t.to_owned()));
    }
    if let Some(d) = description {
        entry.insert("description".into(), Value::String(d.to_owned()));
    }
}
