//! Thing Descriptions (W3C WoT TD 1.1) and Thing Models, built from a Thing's static [`ThingDescriptor`]
//! and the addresses it is served on. A TD is a pure function of those, so it can be produced without a
//! running server — at build time, from a build script or a command:
//!
//! ```
//! # use thingwire::td::{ThingDescription, tcp_addresses};
//! # fn demo(descriptor: &thingwire::ThingDescriptor) {
//! let td = ThingDescription::new(descriptor, "lab", "spectrometer")
//!     .served_on(&tcp_addresses("127.0.0.1", 5555))
//!     .to_json();
//! # let _ = td; }
//! ```
//!
//! What the TDs contain, and why:
//!
//! * `@context` TD 1.1; `id` the URN `urn:thingwire:<server>:<thing>` (TD ids are URIs). hololinked's
//!   client takes the TD `id` as the `thingID` of its requests and as the prefix of its event topics, so the
//!   server answers to the URN as well as to the plain id, and publishes events under both;
//! * `securityDefinitions`/`security`: what the transports in the TD require (see [`SecurityScheme`]):
//!   `nosec`, `basic` for ZeroMQ PLAIN, or `tw:curve` (a TD context extension) for ZeroMQ CURVE;
//! * data schemas from schemars, draft-07, with subschemas inlined so each affordance stands alone;
//! * forms per transport: `href` the ZeroMQ address a client connects to (the host's name instead of
//!   `0.0.0.0`/`*`), one form per operation and content type, JSON first (hololinked's client takes the
//!   first form) and msgpack second;
//! * the built-in actions `ping` and `get_thing_model` that hololinked lists too (not `exit`: a remote stop
//!   is not a Thing's business); the bootstrap `get_thing_description` is not listed, as in hololinked.

mod model;

use serde_json::{Map, Value, json};

pub use model::{
    ActionAffordance, AdditionalResponse, ContextEntry, DataSchema, Document, EventAffordance, ExpectedResponse, Extra,
    Form, HTV_METHOD_NAME, InteractionAffordance, Link, MQV_QOS, MQV_RETAIN, MQV_TOPIC, MultiLanguage, OneOrMany,
    Operation, PropertyAffordance, SecurityDefinition, VersionInfo,
};

use crate::thing::{ExecutionMode, SchemaFn, ThingDescriptor};
use crate::transport::{BoundAddresses, Protocol};

/// The TD 1.1 context URI.
pub const TD_CONTEXT: &str = "https://www.w3.org/2022/wot/td/v1.1";

/// The content types every affordance is offered in, in order.
pub const CONTENT_TYPES: [&str; 2] = ["application/json", "application/msgpack"];

const NOSEC: &str = "nosec_sc";

/// Built-in action answering `null` once the Thing's queue reaches it (a liveness check of the Thing).
pub const PING: &str = "ping";

/// Built-in action returning the Thing Model.
pub const GET_THING_MODEL: &str = "get_thing_model";

/// The TD `id` of Thing `thing_id` on server `server_id`: `urn:thingwire:<server>:<thing>`, with anything
/// but letters, digits and `-._~` percent-encoded so that the URN is valid and unambiguous.
pub fn thing_urn(server_id: &str, thing_id: &str) -> String {
    format!("urn:thingwire:{}:{}", urn_part(server_id), urn_part(thing_id))
}

fn urn_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The namespace of thingwire's TD vocabulary extension (prefix [`EXTENSION_PREFIX`]), added to `@context`
/// only when a TD uses a term of it.
pub const EXTENSION_CONTEXT: &str = "https://example.invalid/thingwire/td#";

/// The prefix of thingwire's TD terms, e.g. the `tw:curve` security scheme.
pub const EXTENSION_PREFIX: &str = "tw";

/// What a server's TCP transport requires of its clients (from [`crate::auth::Auth::td_scheme`]), as the TD
/// says it. IPC and INPROC forms are always `nosec`: thingwire does not authenticate them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityScheme {
    /// No credentials (`nosec`); `allow_list`: only some addresses may connect.
    NoSec {
        /// An IP allow-list is in force.
        allow_list: bool,
    },
    /// ZeroMQ PLAIN username and password, as the TD's `basic` scheme with `"in": "auto"` (the protocol
    /// binding decides where the credentials go: the PLAIN handshake).
    Basic {
        /// An IP allow-list is in force too.
        allow_list: bool,
    },
    /// ZeroMQ CURVE, as the extension scheme `tw:curve` with the server's public key in `tw:serverKey`.
    Curve {
        /// The server's public key, Z85.
        server_key: String,
        /// An IP allow-list is in force too.
        allow_list: bool,
    },
}

impl SecurityScheme {
    /// The name under `securityDefinitions`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoSec { .. } => "nosec_sc",
            Self::Basic { .. } => "basic_sc",
            Self::Curve { .. } => "curve_sc",
        }
    }

    fn definition(&self) -> Value {
        let allow = |allow_list: bool| {
            if allow_list { " Connections are accepted only from the server's IP allow-list." } else { "" }
        };
        match self {
            Self::NoSec { allow_list: false } => json!({"scheme": "nosec"}),
            Self::NoSec { allow_list: true } => json!({
                "scheme": "nosec",
                "description": format!("No credentials.{}", allow(true)),
            }),
            Self::Basic { allow_list } => json!({
                "scheme": "basic",
                "in": "auto",
                "description": format!(
                    "ZeroMQ PLAIN (ZMTP 3.0, RFC 24): a username and password in the connection handshake, sent in \
                     clear text.{}",
                    allow(*allow_list)
                ),
            }),
            Self::Curve { server_key, allow_list } => json!({
                "scheme": format!("{EXTENSION_PREFIX}:curve"),
                format!("{EXTENSION_PREFIX}:serverKey"): server_key,
                "description": format!(
                    "ZeroMQ CURVE (ZMTP 3.0, RFC 26): encrypted connections; the client needs the server's public key \
                     (tw:serverKey, Z85) and a key pair whose public key the server lists.{}",
                    allow(*allow_list)
                ),
            }),
        }
    }
}

/// The addresses a TCP server on `host:port` is reached at (events on port + 1), for TDs made without a
/// running server.
pub fn tcp_addresses(host: &str, port: u16) -> BoundAddresses {
    BoundAddresses {
        protocol: Protocol::Tcp,
        requests: format!("tcp://{host}:{port}"),
        events: format!("tcp://{host}:{}", port.saturating_add(1)),
        request_href: format!("tcp://{host}:{port}"),
        event_href: format!("tcp://{host}:{}", port.saturating_add(1)),
    }
}

/// A Thing Description (or, without addresses, a Thing Model) being assembled.
#[derive(Debug, Clone)]
pub struct ThingDescription<'a> {
    descriptor: &'a ThingDescriptor,
    server_id: &'a str,
    thing_id: &'a str,
    addresses: Vec<&'a BoundAddresses>,
    skip_names: &'a [String],
    security: Option<&'a SecurityScheme>,
}

impl<'a> ThingDescription<'a> {
    /// The description of `descriptor`, served as `thing_id` by server `server_id`.
    pub fn new(descriptor: &'a ThingDescriptor, server_id: &'a str, thing_id: &'a str) -> Self {
        Self { descriptor, server_id, thing_id, addresses: Vec::new(), skip_names: &[], security: None }
    }

    /// Adds forms for a transport.
    pub fn served_on(mut self, addresses: &'a BoundAddresses) -> Self {
        self.addresses.push(addresses);
        self
    }

    /// Says that the TCP transport requires `scheme` (the TD of a server with
    /// [`ServerBuilder::authentication`](crate::ServerBuilder::authentication)). Without TCP forms the TD stays
    /// `nosec`; with TCP and other forms together, the others say `nosec` form by form.
    pub fn secured_by(mut self, scheme: &'a SecurityScheme) -> Self {
        self.security = Some(scheme);
        self
    }

    /// The scheme that applies to the TD as a whole, and whether non-TCP forms must override it.
    fn security(&self) -> (Option<&'a SecurityScheme>, bool) {
        let tcp = self.addresses.iter().any(|a| a.protocol == Protocol::Tcp);
        let secured = self.security.filter(|s| tcp && !matches!(s, SecurityScheme::NoSec { allow_list: false }));
        let mixed = secured.is_some_and(|s| !matches!(s, SecurityScheme::NoSec { .. }))
            && self.addresses.iter().any(|a| a.protocol != Protocol::Tcp);
        (secured, mixed)
    }

    /// Leaves out these affordances (hololinked's `skip_names`).
    pub fn skip(mut self, names: &'a [String]) -> Self {
        self.skip_names = names;
        self
    }

    /// The TD as JSON.
    pub fn to_json(&self) -> Value {
        self.build(false)
    }

    /// The Thing Model (no id, no forms, no security) as JSON.
    pub fn to_thing_model(&self) -> Value {
        self.build(true)
    }

    fn forms(&self, ops: &[&str], event: bool) -> Value {
        let mut forms = Vec::new();
        let (_, mixed) = self.security();
        for a in &self.addresses {
            let href = if event { &a.event_href } else { &a.request_href };
            for ct in CONTENT_TYPES {
                for op in ops {
                    let mut form = json!({"href": href, "op": op, "contentType": ct});
                    if mixed && a.protocol != Protocol::Tcp {
                        form["security"] = json!([NOSEC]);
                    }
                    forms.push(form);
                }
            }
        }
        Value::Array(forms)
    }

    fn build(&self, model: bool) -> Value {
        let d = self.descriptor;
        let mut generator = generator();
        let skip = |name: &str| self.skip_names.iter().any(|s| s == name);

        let mut properties = Map::new();
        for p in d.properties.iter().filter(|p| !skip(p.name)) {
            let mut entry = match schema_value(p.schema, &mut generator) {
                Value::Object(m) => m,
                other => Map::from_iter([("allOf".to_owned(), Value::Array(vec![other]))]),
            };
            put_texts(&mut entry, p.title, p.description);
            entry.insert("readOnly".into(), Value::Bool(p.read_only));
            entry.insert("writeOnly".into(), Value::Bool(false));
            entry.insert("observable".into(), Value::Bool(p.observable));
            if let Some(unit) = p.unit {
                entry.insert("unit".into(), Value::String(unit.into()));
            }
            if !model {
                let mut ops = vec!["readproperty"];
                if !p.read_only {
                    ops.push("writeproperty");
                }
                let mut forms = self.forms(&ops, false);
                if let (true, Value::Array(f), Value::Array(more)) =
                    (p.observable, &mut forms, self.forms(&["observeproperty"], true))
                {
                    f.extend(more);
                }
                entry.insert("forms".into(), forms);
            }
            properties.insert(p.name.into(), Value::Object(entry));
        }

        let mut actions = Map::new();
        for a in d.actions.iter().filter(|a| !skip(a.name)) {
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
            if !model {
                entry.insert("forms".into(), self.forms(&["invokeaction"], false));
            }
            actions.insert(a.name.into(), Value::Object(entry));
        }
        for (name, description, output) in [
            (PING, "Answers once the Thing's queue reaches it: a liveness check", json!({"type": "null"})),
            (GET_THING_MODEL, "The Thing Model: this description without forms", json!({"type": "object"})),
        ] {
            if skip(name) || actions.contains_key(name) {
                continue;
            }
            let mut entry = json!({"description": description, "output": output, "safe": true, "idempotent": true, "synchronous": true});
            if !model {
                entry["forms"] = self.forms(&["invokeaction"], false);
            }
            actions.insert(name.into(), entry);
        }

        let mut events = Map::new();
        for e in d.events.iter().filter(|e| !skip(e.name)) {
            let mut entry = Map::new();
            put_texts(&mut entry, e.title, e.description);
            if let Some(data) = e.data {
                entry.insert("data".into(), schema_value(data, &mut generator));
            }
            if !model {
                entry.insert("forms".into(), self.forms(&["subscribeevent", "unsubscribeevent"], true));
            }
            events.insert(e.name.into(), Value::Object(entry));
        }

        let (secured, mixed) = if model { (None, false) } else { self.security() };
        let mut td = Map::new();
        if matches!(secured, Some(SecurityScheme::Curve { .. })) {
            td.insert("@context".into(), json!([TD_CONTEXT, {EXTENSION_PREFIX: EXTENSION_CONTEXT}]));
        } else {
            td.insert("@context".into(), json!([TD_CONTEXT]));
        }
        if model {
            td.insert("@type".into(), json!("tm:ThingModel"));
        } else {
            td.insert("id".into(), Value::String(thing_urn(self.server_id, self.thing_id)));
        }
        td.insert("title".into(), Value::String(d.title.to_owned()));
        if let Some(desc) = d.description {
            td.insert("description".into(), Value::String(desc.to_owned()));
        }
        if !model {
            let mut definitions = Map::new();
            match secured {
                Some(scheme) => {
                    definitions.insert(scheme.name().into(), scheme.definition());
                    if mixed {
                        definitions.insert(NOSEC.into(), json!({"scheme": "nosec"}));
                    }
                    td.insert("securityDefinitions".into(), Value::Object(definitions));
                    td.insert("security".into(), json!([scheme.name()]));
                }
                None => {
                    definitions.insert(NOSEC.into(), json!({"scheme": "nosec"}));
                    td.insert("securityDefinitions".into(), Value::Object(definitions));
                    td.insert("security".into(), json!([NOSEC]));
                }
            }
        }
        td.insert("properties".into(), Value::Object(properties));
        td.insert("actions".into(), Value::Object(actions));
        td.insert("events".into(), Value::Object(events));
        Value::Object(td)
    }
}

fn generator() -> schemars::SchemaGenerator {
    schemars::generate::SchemaSettings::draft07()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator()
}

fn schema_value(f: SchemaFn, generator: &mut schemars::SchemaGenerator) -> Value {
    let mut value = f(generator).to_value();
    if let Value::Object(map) = &mut value {
        map.remove("$schema");
    }
    tidy(&mut value);
    value
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

fn put_texts(entry: &mut Map<String, Value>, title: Option<&str>, description: Option<&str>) {
    if let Some(t) = title {
        entry.insert("title".into(), Value::String(t.to_owned()));
    }
    if let Some(d) = description {
        entry.insert("description".into(), Value::String(d.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_valid_and_unambiguous() {
        assert_eq!(thing_urn("lab", "spectrometer"), "urn:thingwire:lab:spectrometer");
        assert_eq!(thing_urn("a:b", "c|d"), "urn:thingwire:a%3Ab:c%7Cd");
    }
}
