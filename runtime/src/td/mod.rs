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
//! The builder makes a typed [`Document`] ([`ThingDescription::build`]), which [`ThingDescription::to_json`]
//! writes as JSON; the same types read foreign TDs without losing what they do not name. Each protocol
//! binding adds its forms through a [`FormSource`]: the ZeroMQ forms ([`ZmqForms`]) come from
//! [`ThingDescription::served_on`], others from [`ThingDescription::with_forms`].
//!
//! What the TDs contain, and why:
//!
//! * `@context` TD 1.0 then TD 1.1 (both, as TD 1.1 allows, for consumers that check the TD 1.0 schema); `id` the URN `urn:thingwire:<server>:<thing>` (TD ids are URIs). hololinked's
//!   client takes the TD `id` as the `thingID` of its requests and as the prefix of its event topics, so the
//!   server answers to the URN as well as to the plain id, and publishes events under both;
//! * `securityDefinitions`/`security`: what the transports in the TD require (see [`SecurityScheme`]):
//!   `nosec`, `basic` for ZeroMQ PLAIN, or `tw:curve` (a TD context extension) for ZeroMQ CURVE;
//! * data schemas from schemars, draft-07, with subschemas inlined so each affordance stands alone;
//! * forms per transport: `href` the ZeroMQ address a client connects to (the host's name instead of
//!   `0.0.0.0`/`*`), one form per operation and content type, JSON first (hololinked's client takes the
//!   first form) and msgpack second (see [`ZmqForms`]); then the forms of other bindings;
//! * the built-in actions `ping` and `get_thing_model` that hololinked lists too (not `exit`: a remote stop
//!   is not a Thing's business); the bootstrap `get_thing_description` is not listed, as in hololinked.

mod adopt;
mod forms;
mod model;
mod schemas;
mod security;
mod zmq_forms;

use indexmap::IndexMap;
use serde_json::Value;

pub(crate) use adopt::adopt;
pub use forms::{Affordance, FormSource, ThingInfo};
pub use model::{
    ActionAffordance, AdditionalResponse, ContextEntry, DataSchema, Document, EventAffordance, ExpectedResponse, Extra,
    Form, HTV_METHOD_NAME, InteractionAffordance, Link, MQV_QOS, MQV_RETAIN, MQV_TOPIC, MultiLanguage, OneOrMany,
    Operation, PropertyAffordance, SecurityDefinition, VersionInfo,
};
pub use security::SecurityScheme;
pub use zmq_forms::{CONTENT_TYPES, ZmqForms};

use crate::thing::{ActionDescriptor, ExecutionMode, SchemaFn, ThingDescriptor};
use crate::transport::{BoundAddresses, Protocol};
use security::NOSEC;

/// The TD 1.1 context URI.
pub const TD_CONTEXT: &str = "https://www.w3.org/2022/wot/td/v1.1";

/// The TD 1.0 context URI, written before [`TD_CONTEXT`] (as TD 1.1 allows) so that consumers that validate
/// against the TD 1.0 schema (node-wot 0.9) accept the TD too.
pub const TD_CONTEXT_V1: &str = "https://www.w3.org/2019/wot/td/v1";

/// Built-in action answering `null` once the Thing's queue reaches it (a liveness check of the Thing).
pub const PING: &str = "ping";

/// Built-in action returning the Thing Model.
pub const GET_THING_MODEL: &str = "get_thing_model";

/// The built-in actions that hololinked lists too, after the Thing's own unless it has one of the same name.
static BUILT_IN_ACTIONS: [ActionDescriptor; 2] = [
    built_in(
        PING,
        "Answers once the Thing's queue reaches it: a liveness check",
        |_| schemars::json_schema!({"type": "null"}),
    ),
    built_in(
        GET_THING_MODEL,
        "The Thing Model: this description without forms",
        |_| schemars::json_schema!({"type": "object"}),
    ),
];

const fn built_in(name: &'static str, description: &'static str, output: SchemaFn) -> ActionDescriptor {
    ActionDescriptor {
        name,
        title: None,
        description: Some(description),
        mode: ExecutionMode::Queued,
        blocking: false,
        invocation_timeout: None,
        execution_timeout: None,
        safe: true,
        idempotent: true,
        input: None,
        output: Some(output),
    }
}

/// The TD `id` of Thing `thing_id` on server `server_id`: `urn:thingwire:<server>:<thing>`, with anything
/// but letters, digits and `-._~` percent-encoded so that the URN is valid and unambiguous.
pub fn thing_urn(server_id: &str, thing_id: &str) -> String {
    let part = crate::util::percent_encode_unreserved;
    format!("urn:thingwire:{}:{}", part(server_id), part(thing_id))
}

/// The namespace of thingwire's TD vocabulary extension (prefix [`EXTENSION_PREFIX`]), added to `@context`
/// only when a TD uses a term of it.
pub const EXTENSION_CONTEXT: &str = "https://example.invalid/thingwire/td#";

/// The prefix of thingwire's TD terms, e.g. the `tw:curve` security scheme.
pub const EXTENSION_PREFIX: &str = "tw";

/// The term (prefixed with [`EXTENSION_PREFIX`]: `tw:persist`) that marks a persisted property in its TD,
/// with the value `"always"` (stored and restored), `"init"` (only restored) or `"commit"` (only stored).
pub const PERSIST_TERM: &str = "persist";

/// The value of `tw:persist` for a property, `None` when it is not persisted.
fn persist_term(persist: crate::thing::Persist) -> Option<&'static str> {
    use crate::thing::Persist;
    match persist {
        Persist::Off => None,
        Persist::Always => Some("always"),
        Persist::Init => Some("init"),
        Persist::Commit => Some("commit"),
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
    first: Vec<&'a dyn FormSource>,
    zmq: ZmqForms<'a>,
    sources: Vec<&'a dyn FormSource>,
    skip_names: &'a [String],
    security: Option<&'a SecurityScheme>,
    /// The TD's own scheme when it is not the ZeroMQ transport's (a TD served through another binding).
    documented: Option<Option<&'a SecurityScheme>>,
}

impl<'a> ThingDescription<'a> {
    /// The description of `descriptor`, served as `thing_id` by server `server_id`.
    pub fn new(descriptor: &'a ThingDescriptor, server_id: &'a str, thing_id: &'a str) -> Self {
        Self {
            descriptor,
            server_id,
            thing_id,
            first: Vec::new(),
            zmq: ZmqForms::default(),
            sources: Vec::new(),
            skip_names: &[],
            security: None,
            documented: None,
        }
    }

    /// Adds ZeroMQ forms for a transport (see [`ZmqForms`]).
    pub fn served_on(mut self, addresses: &'a BoundAddresses) -> Self {
        self.zmq.push(addresses);
        self
    }

    /// Adds the forms of another binding, after the ZeroMQ ones and those of sources added before.
    pub fn with_forms(mut self, source: &'a dyn FormSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Adds the forms of a binding before all others, the ZeroMQ ones included: the TD of a Thing as served
    /// through that binding (hololinked's clients take the first form of an operation).
    pub fn with_forms_first(mut self, source: &'a dyn FormSource) -> Self {
        self.first.push(source);
        self
    }

    /// Says that the TCP transport requires `scheme` (the TD of a server with
    /// [`ServerBuilder::authentication`](crate::ServerBuilder::authentication)). Without TCP forms the TD stays
    /// `nosec`; with TCP and other forms together, the others say `nosec` form by form.
    pub fn secured_by(mut self, scheme: &'a SecurityScheme) -> Self {
        self.security = Some(scheme);
        self.zmq.secured_by(scheme);
        self
    }

    /// Makes `scheme` (`None`: `nosec`) the TD's own `security`, which every form needs unless it names
    /// another: the TD of a Thing served through a binding other than ZeroMQ (forms of other bindings then
    /// name their own schemes).
    pub fn documented_as(mut self, scheme: Option<&'a SecurityScheme>) -> Self {
        self.documented = Some(scheme);
        self
    }

    /// Leaves out these affordances (hololinked's `skip_names`).
    pub fn skip(mut self, names: &'a [String]) -> Self {
        self.skip_names = names;
        self
    }

    /// The TD.
    pub fn build(&self) -> Document {
        self.document(false)
    }

    /// The Thing Model: no id, no forms, no security.
    pub fn build_thing_model(&self) -> Document {
        self.document(true)
    }

    /// The TD as JSON.
    pub fn to_json(&self) -> Value {
        self.build().to_value()
    }

    /// The Thing Model (no id, no forms, no security) as JSON.
    pub fn to_thing_model(&self) -> Value {
        self.build_thing_model().to_value()
    }

    /// The form sources: those put first, ZeroMQ's, then the others.
    fn sources(&self) -> impl Iterator<Item = &dyn FormSource> {
        let zmq = std::iter::once(&self.zmq as &dyn FormSource);
        self.first.iter().copied().chain(zmq).chain(self.sources.iter().copied())
    }

    fn document(&self, model: bool) -> Document {
        let d = self.descriptor;
        let thing = ThingInfo {
            descriptor: d,
            server_id: self.server_id,
            thing_id: self.thing_id,
            security: match (model, self.documented) {
                (true, _) => None,
                (false, Some(documented)) => documented.filter(|s| s.authenticates()),
                (false, None) => self.zmq.document_security(self.security),
            },
        };
        let forms = |affordance: Affordance<'_>| -> Vec<Form> {
            if model { Vec::new() } else { self.sources().flat_map(|s| s.forms(&thing, affordance)).collect() }
        };
        let mut generator = schemas::generator();
        let skip = |name: &str| self.skip_names.iter().any(|s| s == name);

        let properties = d.properties.iter().filter(|p| !skip(p.name)).map(|p| {
            let mut schema = schemas::data_schema(p.schema, &mut generator);
            let members = schema.as_map_mut();
            // The affordance's own terms are typed fields; a schema that has them too would write them twice.
            for term in ["readOnly", "writeOnly", "observable", "unit", "uriVariables", "forms"] {
                members.shift_remove(term);
            }
            // Title and description are the schema's (a property is a data schema): in place when it has them.
            for (term, text) in [("title", p.title), ("description", p.description)] {
                if let Some(text) = text {
                    members.insert(term.into(), Value::String(text.into()));
                }
            }
            if let Some(mode) = persist_term(p.persist) {
                members.insert(format!("{EXTENSION_PREFIX}:{PERSIST_TERM}"), Value::String(mode.into()));
            }
            let property = PropertyAffordance {
                schema,
                read_only: Some(p.read_only),
                write_only: Some(false),
                observable: Some(p.observable),
                unit: p.unit.map(Into::into),
                forms: forms(Affordance::Property(p)),
                ..PropertyAffordance::default()
            };
            (p.name.to_owned(), property)
        });
        let properties = properties.collect();

        let own_or_built_in = d.actions.iter().chain(BUILT_IN_ACTIONS.iter().filter(|b| d.action(b.name).is_none()));
        let actions = own_or_built_in.filter(|a| !skip(a.name)).map(|a| {
            let action = ActionAffordance {
                interaction: texts(a.title, a.description),
                input: a.input.map(|f| schemas::data_schema(f, &mut generator)),
                output: a.output.map(|f| schemas::data_schema(f, &mut generator)),
                safe: Some(a.safe),
                idempotent: Some(a.idempotent),
                synchronous: Some(a.mode == ExecutionMode::Queued),
                forms: forms(Affordance::Action(a)),
                ..ActionAffordance::default()
            };
            (a.name.to_owned(), action)
        });
        let actions = actions.collect();

        let events = d.events.iter().filter(|e| !skip(e.name)).map(|e| {
            let event = EventAffordance {
                interaction: texts(e.title, e.description),
                data: e.data.map(|f| schemas::data_schema(f, &mut generator)),
                forms: forms(Affordance::Event(e)),
                ..EventAffordance::default()
            };
            (e.name.to_owned(), event)
        });
        let events = events.collect();

        let definitions = if model { IndexMap::new() } else { self.security_definitions(&thing) };
        let mut context = vec![ContextEntry::Uri(TD_CONTEXT_V1.into()), ContextEntry::Uri(TD_CONTEXT.into())];
        let extension = format!("{EXTENSION_PREFIX}:");
        let persisted = d.properties.iter().any(|p| !skip(p.name) && p.persist.is_on());
        if persisted || definitions.values().any(|d| d.scheme.starts_with(&extension)) {
            let terms = [(EXTENSION_PREFIX.to_owned(), Value::String(EXTENSION_CONTEXT.into()))];
            context.push(ContextEntry::Terms(terms.into_iter().collect()));
        }
        let mut td = Document {
            context: Some(OneOrMany::Many(context)),
            title: d.title.to_owned(),
            description: d.description.map(Into::into),
            properties: Some(properties),
            actions: Some(actions),
            events: Some(events),
            ..Document::default()
        };
        if model {
            td.semantic_type = Some(OneOrMany::One("tm:ThingModel".into()));
        } else {
            td.id = Some(thing.id());
            td.security_definitions = definitions;
            td.security = Some(OneOrMany::Many(vec![thing.security.map_or(NOSEC, SecurityScheme::name).into()]));
            td.forms = forms(Affordance::Thing);
        }
        td
    }

    /// The TD's own scheme first, then those the form sources name.
    fn security_definitions(&self, thing: &ThingInfo<'_>) -> IndexMap<String, SecurityDefinition> {
        let own = match thing.security {
            Some(scheme) => scheme.definitions(),
            None => vec![(NOSEC.to_owned(), SecurityDefinition::new("nosec"))],
        };
        let mut definitions: IndexMap<String, SecurityDefinition> = own.into_iter().collect();
        for (name, definition) in self.sources().flat_map(|s| s.security_definitions(thing)) {
            definitions.entry(name).or_insert(definition);
        }
        definitions
    }
}

fn texts(title: Option<&str>, description: Option<&str>) -> InteractionAffordance {
    InteractionAffordance {
        title: title.map(Into::into),
        description: description.map(Into::into),
        ..InteractionAffordance::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TD data schema is an object (the W3C schema says so), so a boolean schema — what schemars gives
    /// `serde_json::Value` — is wrapped in `allOf`, for actions and events as for properties.
    #[test]
    fn boolean_schemas_become_objects() {
        static ANYTHING: ThingDescriptor = ThingDescriptor {
            title: "Anything",
            description: None,
            properties: &[crate::PropertyDescriptor {
                name: "value",
                title: None,
                description: None,
                read_only: false,
                observable: false,
                computed: false,
                persist: crate::Persist::Off,
                unit: None,
                schema: |g| g.subschema_for::<Value>(),
            }],
            actions: &[ActionDescriptor {
                name: "echo",
                input: None,
                ..built_in("echo", "e", |g| g.subschema_for::<Value>())
            }],
            events: &[crate::EventDescriptor {
                name: "any",
                title: None,
                description: None,
                data: Some(|g| g.subschema_for::<Value>()),
            }],
        };
        let td = ThingDescription::new(&ANYTHING, "lab", "anything").to_json();
        let wrapped = serde_json::json!({"allOf": [true]});
        assert_eq!(td["properties"]["value"]["allOf"], wrapped["allOf"]);
        assert_eq!(td["actions"]["echo"]["output"], wrapped);
        assert_eq!(td["events"]["any"]["data"], wrapped);
    }

    #[test]
    fn urns_are_valid_and_unambiguous() {
        assert_eq!(thing_urn("lab", "spectrometer"), "urn:thingwire:lab:spectrometer");
        assert_eq!(thing_urn("a:b", "c|d"), "urn:thingwire:a%3Ab:c%7Cd");
    }
}
