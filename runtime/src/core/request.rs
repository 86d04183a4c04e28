//! What a binding hands the core: one request, in no transport's terms.

use std::fmt;
use std::time::Duration;

use crate::protocol::ContentType;

/// The operations a request can name: the W3C WoT operation types, as hololinked spells them on its wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `readproperty`.
    ReadProperty,
    /// `writeproperty`.
    WriteProperty,
    /// `deleteproperty` (refused: properties cannot be deleted).
    DeleteProperty,
    /// `readmultipleproperties`: the names, comma-separated, are the request's name.
    ReadMultipleProperties,
    /// `readallproperties`.
    ReadAllProperties,
    /// `writemultipleproperties`: the payload is `{name: value, …}`.
    WriteMultipleProperties,
    /// `writeallproperties`: the payload is `{name: value, …}`.
    WriteAllProperties,
    /// `invokeaction`.
    InvokeAction,
    /// `observeproperty`: a subscription, which a binding serves itself.
    ObserveProperty,
    /// `unobserveproperty`.
    UnobserveProperty,
    /// `subscribeevent`: a subscription, which a binding serves itself.
    SubscribeEvent,
    /// `unsubscribeevent` (hololinked 0.4 spells it `unsubscribevent`; both are understood).
    UnsubscribeEvent,
}

impl Operation {
    /// Every operation, in the order above.
    pub const ALL: [Operation; 12] = [
        Self::ReadProperty,
        Self::WriteProperty,
        Self::DeleteProperty,
        Self::ReadMultipleProperties,
        Self::ReadAllProperties,
        Self::WriteMultipleProperties,
        Self::WriteAllProperties,
        Self::InvokeAction,
        Self::ObserveProperty,
        Self::UnobserveProperty,
        Self::SubscribeEvent,
        Self::UnsubscribeEvent,
    ];

    /// The W3C name, as Thing Descriptions write it.
    pub fn as_str(self) -> &'static str {
        use crate::protocol::op;
        match self {
            Self::ReadProperty => op::READ_PROPERTY,
            Self::WriteProperty => op::WRITE_PROPERTY,
            Self::DeleteProperty => op::DELETE_PROPERTY,
            Self::ReadMultipleProperties => op::READ_MULTIPLE_PROPERTIES,
            Self::ReadAllProperties => op::READ_ALL_PROPERTIES,
            Self::WriteMultipleProperties => op::WRITE_MULTIPLE_PROPERTIES,
            Self::WriteAllProperties => op::WRITE_ALL_PROPERTIES,
            Self::InvokeAction => op::INVOKE_ACTION,
            Self::ObserveProperty => op::OBSERVE_PROPERTY,
            Self::UnobserveProperty => op::UNOBSERVE_PROPERTY,
            Self::SubscribeEvent => op::SUBSCRIBE_EVENT,
            Self::UnsubscribeEvent => op::UNSUBSCRIBE_EVENT,
        }
    }

    /// Parses a W3C operation name, or hololinked's spelling `unsubscribevent`.
    pub fn parse(name: &str) -> Option<Self> {
        // The common ones first: this runs for every request.
        match name {
            "readproperty" => Some(Self::ReadProperty),
            "invokeaction" => Some(Self::InvokeAction),
            "writeproperty" => Some(Self::WriteProperty),
            crate::protocol::op::UNSUBSCRIBE_EVENT_HOLOLINKED => Some(Self::UnsubscribeEvent),
            _ => Self::ALL.into_iter().find(|op| op.as_str() == name),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a request is to be run: its timeouts, whether an answer is wanted, whether the Thing's log lines
/// travel back with the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecutionContext {
    /// How long the request may wait for the Thing before it starts (`None`: the action's or the server's
    /// default, else no limit).
    pub invocation_timeout: Option<Duration>,
    /// How long it may run once started (`None`: the action's or the server's default, else no limit).
    pub execution_timeout: Option<Duration>,
    /// No answer is wanted (the binding decides what that means on its wire; a ZeroMQ oneway request still
    /// gets its `TIMEOUT`, as hololinked sends it).
    pub oneway: bool,
    /// Return the log lines the Thing's code emitted while it ran the operation.
    pub fetch_logs: bool,
}

/// The addressing part of a request, borrowed from the binding's own message for the time of
/// [`Core::submit`](crate::core::Core::submit).
#[derive(Debug, Clone)]
pub struct RequestHead<'a> {
    /// The binding's id of the request (a ZeroMQ message id), for the logs.
    pub id: &'a str,
    /// The Thing: its id, or its TD id (the URN hololinked's client addresses it by).
    pub thing_id: &'a str,
    /// The property or action; for [`Operation::ReadMultipleProperties`] the names, comma-separated;
    /// empty where the operation takes none.
    pub name: &'a str,
    /// The operation, by its wire name ([`Operation::as_str`]; an unknown one is refused with a message
    /// listing the known ones).
    pub operation: &'a str,
    /// How the payload is encoded, and the encoding of the answer.
    pub content_type: ContentType,
    /// Timeouts and options.
    pub context: ExecutionContext,
}

/// The payload of a request, owned by the binding's message: the encoded value or arguments, and raw bytes
/// beside them (hololinked's frame 4: written to a property as they are, or passed to an action as its
/// first positional argument). A binding implements it for its own buffers, so nothing is copied.
pub trait Body: Send + Sync + 'static {
    /// The encoded value or keyword arguments (empty or `null` for none).
    fn payload(&self) -> &[u8];
    /// Raw bytes beside the payload (empty for none).
    fn preserialized(&self) -> &[u8] {
        &[]
    }
}

impl Body for Vec<u8> {
    fn payload(&self) -> &[u8] {
        self
    }
}

impl Body for (Vec<u8>, Vec<u8>) {
    fn payload(&self) -> &[u8] {
        &self.0
    }

    fn preserialized(&self) -> &[u8] {
        &self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_by_their_w3c_names_and_hololinkeds_unsubscribe() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
        assert_eq!(Operation::parse("unsubscribevent"), Some(Operation::UnsubscribeEvent));
        assert_eq!(Operation::parse("unsubscribeevent"), Some(Operation::UnsubscribeEvent));
        assert_eq!(Operation::parse("readProperty"), None);
    }
}
