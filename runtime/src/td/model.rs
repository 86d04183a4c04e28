//! The typed Thing Description: serde types for a W3C WoT TD 1.1 document (or a Thing Model), its
//! affordances, forms, security definitions and data schemas.
//!
//! The types name the terms thingwire and its bindings read or write; every other member of a document,
//! an affordance, a form or a security definition is kept, in order, in the type's `extra` map, so a
//! foreign TD (hololinked's, node-wot's, another thingwire's) survives `Deserialize` then `Serialize` as
//! the same JSON value. Optional terms are left out when they are `None` or empty; what TD 1.1 requires
//! (`title`, a form's `href`, a security scheme's `scheme`, a response's `contentType`) is required here.
//!
//! Data schemas stay JSON Schema objects ([`DataSchema`]) rather than a model of all of JSON Schema: the
//! runtime makes them with schemars and only passes them on.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Members a type does not name, as they came: what makes a foreign TD round-trip losslessly, and where
/// binding-specific terms such as [`HTV_METHOD_NAME`] or [`MQV_TOPIC`] go.
pub type Extra = Map<String, Value>;

/// Texts by language tag (TD `titles`, `descriptions`).
pub type MultiLanguage = IndexMap<String, String>;

/// `htv:methodName`: the HTTP method of a form (HTTP binding; `htv` is part of the TD 1.1 context).
pub const HTV_METHOD_NAME: &str = "htv:methodName";

/// `mqv:topic`: the MQTT topic a form publishes or subscribes to (MQTT binding, as hololinked writes it).
pub const MQV_TOPIC: &str = "mqv:topic";

/// `mqv:retain`: whether the broker keeps the last message of the topic (MQTT binding).
pub const MQV_RETAIN: &str = "mqv:retain";

/// `mqv:qos`: the MQTT quality of service, `"0"`, `"1"` or `"2"` (MQTT binding).
pub const MQV_QOS: &str = "mqv:qos";

/// One value, or an array of them, kept as the document wrote it (TD `@context`, `@type`, `op`,
/// `security`, …, which may be either).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value, not in an array.
    One(T),
    /// An array.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values, one or many.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// A member of `@context`: a vocabulary URI, or an object of prefixes and terms (`{"tw": "…"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ContextEntry {
    /// A context URI, such as [`TD_CONTEXT`](super::TD_CONTEXT).
    Uri(String),
    /// Prefix and term definitions.
    Terms(Map<String, Value>),
}

/// A TD or Thing Model document: a Thing's metadata, security, affordances and Thing-level forms.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Document {
    /// `@context` (hololinked writes `context` instead, which stays in [`Document::extra`]).
    #[serde(rename = "@context", skip_serializing_if = "Option::is_none")]
    pub context: Option<OneOrMany<ContextEntry>>,
    /// `@type`, e.g. `tm:ThingModel`.
    #[serde(rename = "@type", skip_serializing_if = "Option::is_none")]
    pub semantic_type: Option<OneOrMany<String>>,
    /// The Thing's id, a URI (thingwire's: [`thing_urn`](super::thing_urn)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The title.
    pub title: String,
    /// The title in other languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub titles: Option<MultiLanguage>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The description in other languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptions: Option<MultiLanguage>,
    /// The version (`instance` for a TD, `model` for a Thing Model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionInfo>,
    /// When the TD was created (date-time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the TD was last changed (date-time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Where to get support (a URI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support: Option<String>,
    /// The base URI relative `href`s are resolved against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The security schemes [`Document::security`] and forms refer to, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub security_definitions: IndexMap<String, SecurityDefinition>,
    /// The names of the schemes that apply to every form that does not say otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<OneOrMany<String>>,
    /// Profiles the TD follows (URIs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<OneOrMany<String>>,
    /// Data schemas that forms' responses refer to, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_definitions: Option<IndexMap<String, DataSchema>>,
    /// URI template variables of the Thing-level forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_variables: Option<IndexMap<String, DataSchema>>,
    /// The properties, by name (`Some` and empty is written as `{}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<IndexMap<String, PropertyAffordance>>,
    /// The actions, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<IndexMap<String, ActionAffordance>>,
    /// The events, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<IndexMap<String, EventAffordance>>,
    /// Links to other resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
    /// Forms for the Thing as a whole (`readallproperties`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<Form>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Document {
    /// The property `name`.
    pub fn property(&self, name: &str) -> Option<&PropertyAffordance> {
        self.properties.as_ref()?.get(name)
    }

    /// The action `name`.
    pub fn action(&self, name: &str) -> Option<&ActionAffordance> {
        self.actions.as_ref()?.get(name)
    }

    /// The event `name`.
    pub fn event(&self, name: &str) -> Option<&EventAffordance> {
        self.events.as_ref()?.get(name)
    }

    /// The document as a JSON value.
    pub fn to_value(&self) -> Value {
        // Cannot fail: every map key is a string and every flattened member is an object.
        serde_json::to_value(self).expect("a Thing Description is a JSON object")
    }
}

/// TD `version`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The version of this TD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The version of the Thing Model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A link to another resource (TD `links`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Link {
    /// The target.
    pub href: String,
    /// The target's media type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The relation, e.g. `icon`, `tm:extends`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    /// The link's context, when it is not the Thing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// An icon's sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes: Option<String>,
    /// The target's languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hreflang: Option<OneOrMany<String>>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A security scheme under `securityDefinitions` (`nosec`, `basic`, `bearer`, an extension scheme such
/// as thingwire's `tw:curve`, …). Scheme-specific terms other than `in` and `name` (`token`, `flow`,
/// `tw:serverKey`, …) are in [`SecurityDefinition::extra`], written after `name` and before
/// `description`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SecurityDefinition {
    /// `@type`.
    #[serde(rename = "@type", skip_serializing_if = "Option::is_none")]
    pub semantic_type: Option<OneOrMany<String>>,
    /// The scheme: `nosec`, `basic`, `digest`, `apikey`, `bearer`, `psk`, `oauth2`, `combo`, `auto`, or a
    /// prefixed extension.
    pub scheme: String,
    /// Where the credentials go: `header`, `query`, `body`, `cookie`, `uri`, `auto`.
    #[serde(rename = "in", skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The name of the header, query parameter or cookie that carries the credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The description in other languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptions: Option<MultiLanguage>,
    /// The URI of a proxy server the scheme applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

impl SecurityDefinition {
    /// A definition of `scheme` with nothing else said.
    pub fn new(scheme: impl Into<String>) -> Self {
        Self { scheme: scheme.into(), ..Self::default() }
    }
}

/// A data schema: a JSON Schema object (the TD's data-schema vocabulary is a subset of JSON Schema), kept
/// as it is. thingwire makes them with schemars.
///
/// A boolean schema is read as the object `{"allOf": [true]}` (or `false`): a TD data schema is an object.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct DataSchema(Map<String, Value>);

impl DataSchema {
    /// The schema's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The schema's members, to change.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// The schema's members, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The member `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The `title`, when it is a string.
    pub fn title(&self) -> Option<&str> {
        self.get("title").and_then(Value::as_str)
    }

    /// The `description`, when it is a string.
    pub fn description(&self) -> Option<&str> {
        self.get("description").and_then(Value::as_str)
    }
}

impl From<Map<String, Value>> for DataSchema {
    fn from(map: Map<String, Value>) -> Self {
        Self(map)
    }
}

/// An object as it is; anything else (a boolean schema) as the only member of `allOf`.
impl From<Value> for DataSchema {
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => Self(map),
            other => Self(Map::from_iter([("allOf".to_owned(), Value::Array(vec![other]))])),
        }
    }
}

impl From<DataSchema> for Value {
    fn from(schema: DataSchema) -> Self {
        Value::Object(schema.0)
    }
}

impl<'de> Deserialize<'de> for DataSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SchemaVisitor;

        impl<'de> Visitor<'de> for SchemaVisitor {
            type Value = DataSchema;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a data schema (a JSON Schema object, or true or false)")
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<DataSchema, E> {
                Ok(DataSchema::from(Value::Bool(b)))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DataSchema, A::Error> {
                Map::deserialize(de::value::MapAccessDeserializer::new(map)).map(DataSchema)
            }
        }

        deserializer.deserialize_any(SchemaVisitor)
    }
}

/// The terms every affordance has (TD `InteractionAffordance`). A property has them in its data schema,
/// see [`PropertyAffordance::schema`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InteractionAffordance {
    /// `@type`.
    #[serde(rename = "@type", skip_serializing_if = "Option::is_none")]
    pub semantic_type: Option<OneOrMany<String>>,
    /// The title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The title in other languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub titles: Option<MultiLanguage>,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The description in other languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptions: Option<MultiLanguage>,
    /// URI template variables of the forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_variables: Option<IndexMap<String, DataSchema>>,
}

/// A property: a data schema with forms to read, write and observe the value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PropertyAffordance {
    /// The value's data schema. A property *is* a data schema (TD 1.1: `PropertyAffordance` is both an
    /// `InteractionAffordance` and a `DataSchema`), so the terms the two share — `@type`, `title(s)`,
    /// `description(s)` — are members of it, where schemars put them, and so is every member this type does
    /// not name.
    #[serde(flatten)]
    pub schema: DataSchema,
    /// Writes are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Reads are refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_only: Option<bool>,
    /// Changes can be observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observable: Option<bool>,
    /// The unit of measure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// URI template variables of the forms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_variables: Option<IndexMap<String, DataSchema>>,
    /// The forms (none in a Thing Model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<Form>,
}

impl PropertyAffordance {
    /// The title (a member of [`PropertyAffordance::schema`]).
    pub fn title(&self) -> Option<&str> {
        self.schema.title()
    }

    /// The description (a member of [`PropertyAffordance::schema`]).
    pub fn description(&self) -> Option<&str> {
        self.schema.description()
    }
}

/// An action: input and output schemas and forms to invoke it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionAffordance {
    /// Title, description, ….
    #[serde(flatten)]
    pub interaction: InteractionAffordance,
    /// The schema of the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<DataSchema>,
    /// The schema of the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<DataSchema>,
    /// The action does not change state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safe: Option<bool>,
    /// Repeating the action has the same effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    /// The reply waits for the action to finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<bool>,
    /// The forms (none in a Thing Model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<Form>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An event: the data it pushes and forms to subscribe to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventAffordance {
    /// Title, description, ….
    #[serde(flatten)]
    pub interaction: InteractionAffordance,
    /// The schema of what a subscription sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<DataSchema>,
    /// The schema of the event data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSchema>,
    /// The schema of what a consumer answers to an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_response: Option<DataSchema>,
    /// The schema of what cancelling a subscription sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<DataSchema>,
    /// The forms (none in a Thing Model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<Form>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An operation a form serves (TD `op`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Operation {
    /// `readproperty`.
    ReadProperty,
    /// `writeproperty`.
    WriteProperty,
    /// `observeproperty`.
    ObserveProperty,
    /// `unobserveproperty`.
    UnobserveProperty,
    /// `invokeaction`.
    InvokeAction,
    /// `queryaction`.
    QueryAction,
    /// `cancelaction`.
    CancelAction,
    /// `subscribeevent`.
    SubscribeEvent,
    /// `unsubscribeevent`.
    UnsubscribeEvent,
    /// `readallproperties`.
    ReadAllProperties,
    /// `writeallproperties`.
    WriteAllProperties,
    /// `readmultipleproperties`.
    ReadMultipleProperties,
    /// `writemultipleproperties`.
    WriteMultipleProperties,
    /// `observeallproperties`.
    ObserveAllProperties,
    /// `unobserveallproperties`.
    UnobserveAllProperties,
    /// `queryallactions`.
    QueryAllActions,
    /// `subscribeallevents`.
    SubscribeAllEvents,
    /// `unsubscribeallevents`.
    UnsubscribeAllEvents,
    /// An operation TD 1.1 does not name, as written.
    #[serde(untagged)]
    Other(String),
}

/// How to perform operations on an affordance (or the Thing): where, in which content type, over which
/// subprotocol. Binding-specific terms (`htv:methodName`, `mqv:topic`, …) go in [`Form::extra`]; see
/// [`Form::with_term`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Form {
    /// The target (a URI; thingwire's ZeroMQ forms give the address a client connects to).
    pub href: String,
    /// The operation or operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<OneOrMany<Operation>>,
    /// The content type of requests and replies (TD default `application/json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The content coding, e.g. `gzip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_coding: Option<String>,
    /// The subprotocol, e.g. `sse` for Server-Sent Events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// Security definitions that apply to this form instead of the document's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<OneOrMany<String>>,
    /// OAuth2 scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<OneOrMany<String>>,
    /// The reply, when it differs from the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ExpectedResponse>,
    /// Other replies (errors, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_responses: Option<Vec<AdditionalResponse>>,
    /// Every other member: binding-specific terms.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Form {
    /// A form serving `op` at `href`.
    pub fn new(href: impl Into<String>, op: Operation) -> Self {
        Self { href: href.into(), op: Some(OneOrMany::One(op)), ..Self::default() }
    }

    /// A form serving several operations at `href` (an HTTP resource both read and written, …).
    pub fn with_ops(href: impl Into<String>, ops: impl IntoIterator<Item = Operation>) -> Self {
        Self { href: href.into(), op: Some(OneOrMany::Many(ops.into_iter().collect())), ..Self::default() }
    }

    /// Says the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Says the subprotocol (`sse`, …).
    pub fn with_subprotocol(mut self, subprotocol: impl Into<String>) -> Self {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// Says which security definitions apply to this form instead of the document's.
    pub fn with_security(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.security = Some(OneOrMany::Many(names.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds a term the form type does not name, e.g. `with_term(HTV_METHOD_NAME, "GET")`.
    pub fn with_term(mut self, term: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(term.into(), value.into());
        self
    }

    /// The operations, none when `op` is left out.
    pub fn ops(&self) -> &[Operation] {
        self.op.as_ref().map_or(&[], OneOrMany::as_slice)
    }

    /// The term `term` of [`Form::extra`] (`htv:methodName`, `mqv:topic`, …).
    pub fn term(&self, term: &str) -> Option<&Value> {
        self.extra.get(term)
    }
}

/// TD `response`: what the reply of a form is, when it differs from the request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExpectedResponse {
    /// The reply's content type.
    pub content_type: String,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A member of TD `additionalResponses`: a reply other than the usual one (an error, …).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdditionalResponse {
    /// Whether it reports success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Its content type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The name of its schema in `schemaDefinitions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_spell_as_td_ops_and_keep_unknown_ones() {
        let ops: Vec<Operation> =
            serde_json::from_value(json!(["readproperty", "queryallactions", "tw:poke"])).expect("ops");
        assert_eq!(ops, [Operation::ReadProperty, Operation::QueryAllActions, Operation::Other("tw:poke".into())]);
        assert_eq!(serde_json::to_value(&ops).expect("json"), json!(["readproperty", "queryallactions", "tw:poke"]));
    }

    #[test]
    fn a_form_keeps_one_op_or_many_and_binding_terms() {
        for form in [
            json!({"href": "http://h/p", "op": "readproperty", "htv:methodName": "GET", "contentType": "application/json"}),
            json!({"href": "http://h/p", "op": ["readproperty", "writeproperty"], "subprotocol": "sse"}),
        ] {
            let typed: Form = serde_json::from_value(form.clone()).expect("form");
            assert_eq!(serde_json::to_value(&typed).expect("json"), form);
        }
        let form = Form::new("mqtt://h:1883", Operation::ObserveProperty).with_term(MQV_TOPIC, "t/x");
        assert_eq!(form.term(MQV_TOPIC), Some(&json!("t/x")));
        assert_eq!(form.ops(), [Operation::ObserveProperty]);
    }

    #[test]
    fn a_boolean_data_schema_reads_as_an_object() {
        let action: ActionAffordance = serde_json::from_value(json!({"output": true})).expect("action");
        assert_eq!(action.output.map(Value::from), Some(json!({"allOf": [true]})));
        assert!(serde_json::from_value::<DataSchema>(json!(1)).is_err());
    }

    #[test]
    fn a_property_keeps_its_schema_members_in_place() {
        let property = json!({"description": "d", "type": "number", "readOnly": true, "x-y": 1});
        let typed: PropertyAffordance = serde_json::from_value(property).expect("property");
        assert_eq!(typed.description(), Some("d"));
        assert_eq!(typed.read_only, Some(true));
        let back = serde_json::to_string(&typed).expect("json");
        assert_eq!(back, r#"{"description":"d","type":"number","x-y":1,"readOnly":true}"#);
    }
}
