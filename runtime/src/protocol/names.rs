//! The protocol's names, in one place for the server, its bindings and the client: operation names, the
//! reserved action names, how events are addressed, and the shape of `list_things`' answer.

/// Operation names: the W3C WoT operation types, as Thing Descriptions and hololinked's wire write them.
pub mod op {
    /// Read one property.
    pub const READ_PROPERTY: &str = "readproperty";
    /// Write one property.
    pub const WRITE_PROPERTY: &str = "writeproperty";
    /// Delete a property (never supported).
    pub const DELETE_PROPERTY: &str = "deleteproperty";
    /// Invoke an action.
    pub const INVOKE_ACTION: &str = "invokeaction";
    /// Read the comma-separated properties named in `objekt`.
    pub const READ_MULTIPLE_PROPERTIES: &str = "readmultipleproperties";
    /// Read every property.
    pub const READ_ALL_PROPERTIES: &str = "readallproperties";
    /// Write the properties in the payload object.
    pub const WRITE_MULTIPLE_PROPERTIES: &str = "writemultipleproperties";
    /// Write the properties in the payload object.
    pub const WRITE_ALL_PROPERTIES: &str = "writeallproperties";
    /// Subscribe to a property's changes (a subscription, not a request).
    pub const OBSERVE_PROPERTY: &str = "observeproperty";
    /// End a subscription to a property's changes.
    pub const UNOBSERVE_PROPERTY: &str = "unobserveproperty";
    /// Subscribe to an event (a subscription, not a request).
    pub const SUBSCRIBE_EVENT: &str = "subscribeevent";
    /// End an event subscription, as the W3C spells it (and Thing Descriptions write it).
    pub const UNSUBSCRIBE_EVENT: &str = "unsubscribeevent";
    /// hololinked 0.4's spelling of [`UNSUBSCRIBE_EVENT`] (sic), understood as well.
    pub const UNSUBSCRIBE_EVENT_HOLOLINKED: &str = "unsubscribevent";
}

/// The bootstrap action a server answers itself: the Thing Description (hololinked's name; not listed in
/// the TD).
pub const GET_THING_DESCRIPTION: &str = "get_thing_description";

/// A thingwire extension: `invokeaction` of this name with an empty `thingID` lists the Things a server
/// serves (hololinked servers have no such operation).
pub const LIST_THINGS: &str = "list_things";

/// Built-in action answering `null` once the Thing's queue reaches it (a liveness check of the Thing).
pub const PING: &str = "ping";

/// Built-in action returning the Thing Model.
pub const GET_THING_MODEL: &str = "get_thing_model";

/// hololinked's hidden action reading properties: `_get_properties(names=[…])`, all of them without names.
pub const GET_PROPERTIES: &str = "_get_properties";

/// hololinked's hidden action writing properties: `_set_properties(**values)`.
pub const SET_PROPERTIES: &str = "_set_properties";

/// The actions every Thing answers whatever it declares, listed in its TD.
pub const LISTED_BUILTIN_ACTIONS: [&str; 2] = [PING, GET_THING_MODEL];

/// The actions every Thing answers and its TD does not list.
pub const UNLISTED_BUILTIN_ACTIONS: [&str; 3] = [GET_THING_DESCRIPTION, GET_PROPERTIES, SET_PROPERTIES];

/// The suffix of an observable property's change event: `<property>_change_event`.
pub const CHANGE_EVENT_SUFFIX: &str = "_change_event";

/// The event name under which `property`'s changes are published: `<property>_change_event`.
pub fn change_event(property: &str) -> String {
    format!("{property}{CHANGE_EVENT_SUFFIX}")
}

/// The topic of event `event` of a Thing addressed as `thing` (its id or its TD id): `<thing>/<event>`.
/// Thing ids cannot contain `/`, so the first `/` separates them.
pub fn event_topic(thing: &str, event: &str) -> String {
    format!("{thing}/{event}")
}

/// Splits a topic `<thing>/<event>` into its Thing and its event.
pub fn split_topic(topic: &str) -> Option<(&str, &str)> {
    topic.split_once('/')
}

/// One entry of [`LIST_THINGS`]'s reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThingSummary {
    /// The thing id.
    pub id: String,
    /// The TD title.
    pub title: String,
    /// The TD id.
    pub td_id: String,
    /// Where the Thing lives, when it is a remote Thing served by a gateway: its backend's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}
