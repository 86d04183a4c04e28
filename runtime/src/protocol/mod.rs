//! The hololinked 0.4 ZeroMQ wire protocol: frames, headers, execution contexts, payload codecs and the
//! error object.
//!
//! Every message on the wire has exactly five frames:
//!
//! | # | request (as the server's ROUTER delivers it) | reply (as the server hands it to its ROUTER) |
//! |---|---|---|
//! | 0 | the client's routing id | the request header's `senderID` |
//! | 1 | empty | empty |
//! | 2 | request header (JSON) | response header (JSON) |
//! | 3 | payload, encoded as `payloadContentType` says (`null` when there is none) | payload |
//! | 4 | preserialized bytes (usually empty) | preserialized bytes |
//!
//! Decoding never panics: every malformed input becomes a [`ProtocolError`] that says what was wrong.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Number of frames in every hololinked message.
pub const FRAME_COUNT: usize = 5;

/// Deepest nesting a msgpack payload may have (serde_json's own limit for JSON): deeper data would exhaust
/// the decoding thread's stack.
pub const MAX_DEPTH: usize = 128;

pub mod compact;
mod fast;
pub mod names;

pub use crate::codec::{decode, encode, encode_into};

/// The encoded form of "no payload": JSON `null`. An empty payload frame is a decode error for hololinked.
pub const NULL_PAYLOAD: &[u8] = b"null";

/// What went wrong while decoding a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The message did not have exactly five frames.
    #[error("message length 5 does not match the number of message parts {0}")]
    FrameCount(usize),
    /// The header frame is not UTF-8 JSON of the expected shape.
    #[error("invalid message header: {0}")]
    Header(String),
    /// The payload could not be decoded with its declared content type.
    #[error("could not decode the {content_type} payload: {reason}")]
    Payload {
        /// The declared content type.
        content_type: String,
        /// What the decoder said.
        reason: String,
    },
    /// A value could not be encoded with the requested content type.
    #[error("could not encode a value as {content_type}: {reason}")]
    Encode {
        /// The content type asked for.
        content_type: String,
        /// What the encoder said.
        reason: String,
    },
    /// The content type is not one this implementation can decode.
    #[error("unsupported payload content type `{0}`; use `application/json` or `application/msgpack`")]
    UnsupportedContentType(String),
}

/// The `messageType` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Liveness probe, answered directly by the server.
    Handshake,
    /// A request to perform an operation on a Thing.
    Operation,
    /// A request to stop the server (refused unless enabled).
    Exit,
    /// Success.
    Reply,
    /// The invocation or execution timeout expired.
    Timeout,
    /// The operation failed; the payload is an [`ErrorPayload`].
    Exception,
    /// The message itself was not acceptable; the payload is an [`ErrorPayload`].
    InvalidMessage,
    /// An event published on a PUB socket.
    Event,
}

impl MessageType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handshake => "HANDSHAKE",
            Self::Operation => "OPERATION",
            Self::Exit => "EXIT",
            Self::Reply => "REPLY",
            Self::Timeout => "TIMEOUT",
            Self::Exception => "EXCEPTION",
            Self::InvalidMessage => "INVALID_MESSAGE",
            Self::Event => "EVENT",
        }
    }

    /// Parses the wire spelling; `None` for anything unknown.
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "HANDSHAKE" => Self::Handshake,
            "OPERATION" => Self::Operation,
            "EXIT" => Self::Exit,
            "REPLY" => Self::Reply,
            "TIMEOUT" => Self::Timeout,
            "EXCEPTION" => Self::Exception,
            "INVALID_MESSAGE" => Self::InvalidMessage,
            "EVENT" => Self::Event,
            _ => return None,
        })
    }

    /// How a server reads the `messageType` of a request: hololinked treats anything that is not
    /// `HANDSHAKE` or `EXIT` as an operation.
    pub fn of_request(s: &str) -> Self {
        match s {
            "HANDSHAKE" => Self::Handshake,
            "EXIT" => Self::Exit,
            _ => Self::Operation,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payload content type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ContentType {
    /// `application/json`, hololinked's default.
    #[default]
    Json,
    /// `application/msgpack`, thingwire's default for Rust clients (compact, fast for bulk numbers).
    Msgpack,
    /// `application/x-thingwire-msgpack`: msgpack in which a `Vec<f64>` value may also be written as a
    /// packed array — a msgpack extension value of type [`PACKED_F64_EXT`] holding the numbers as
    /// little-endian IEEE 754 doubles, 8 bytes each, with no per-number marker. A superset of msgpack: every
    /// msgpack payload is also valid here.
    ///
    /// Used only between thingwire peers: a thingwire server names it in its `HANDSHAKE` reply (see
    /// [`HandshakeInfo`]), and a [`Client`](crate::Client) asked for [`ContentType::Msgpack`] then sends
    /// this instead, so that bulk numbers travel as one copy each way. hololinked neither sends nor receives
    /// it.
    ThingwireMsgpack,
    /// `text/plain`: a UTF-8 string.
    Text,
    /// Anything else; decoding it fails with [`ProtocolError::UnsupportedContentType`].
    Other(String),
}

/// The msgpack extension type of a packed `Vec<f64>` in [`ContentType::ThingwireMsgpack`] payloads (`'F'`).
pub const PACKED_F64_EXT: i8 = 0x46;

impl ContentType {
    /// The MIME spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Json => "application/json",
            Self::Msgpack => "application/msgpack",
            Self::ThingwireMsgpack => "application/x-thingwire-msgpack",
            Self::Text => "text/plain",
            Self::Other(s) => s,
        }
    }

    /// Parses a MIME string (parameters such as `; charset=utf-8` are ignored).
    pub fn parse(s: &str) -> Self {
        let base = s.split(';').next().unwrap_or("").trim();
        match base {
            "application/json" | "" => Self::Json,
            "application/msgpack" | "application/x-msgpack" | "application/vnd.msgpack" => Self::Msgpack,
            "application/x-thingwire-msgpack" => Self::ThingwireMsgpack,
            "text/plain" => Self::Text,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// Whether payloads of this type are msgpack ([`ContentType::Msgpack`] or
    /// [`ContentType::ThingwireMsgpack`]).
    pub fn is_msgpack(&self) -> bool {
        matches!(self, Self::Msgpack | Self::ThingwireMsgpack)
    }

    /// The content type a reply to a request in `self` is encoded in: the same one when it is JSON or
    /// msgpack, JSON otherwise.
    pub fn for_reply(&self) -> ContentType {
        match self {
            Self::Msgpack => Self::Msgpack,
            Self::ThingwireMsgpack => Self::ThingwireMsgpack,
            _ => Self::Json,
        }
    }
}

/// What a thingwire server says about itself in frame 4 of its `HANDSHAKE` reply, as JSON. hololinked's
/// server leaves that frame empty and hololinked's client does not read it, so the reply stays what
/// hololinked expects; a thingwire [`Client`](crate::Client) reads it to learn which of thingwire's own
/// content types it may use (and drops what it learnt when the connection is lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HandshakeInfo {
    /// `"thingwire"`.
    #[serde(default)]
    pub server: String,
    /// The server's crate version.
    #[serde(default)]
    pub version: String,
    /// Payload content types the server accepts beyond hololinked's (JSON, msgpack, text).
    #[serde(default)]
    pub content_types: Vec<String>,
    /// Header formats the server reads beside hololinked's JSON ([`compact::V1`]); absent from the
    /// handshakes of older thingwire servers, whose clients then keep to JSON headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
}

impl HandshakeInfo {
    /// What this server says: thingwire, this version, [`ContentType::ThingwireMsgpack`], compact headers.
    pub fn this_server() -> Self {
        Self {
            server: "thingwire".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            content_types: vec![ContentType::ThingwireMsgpack.as_str().into()],
            headers: vec![compact::V1.into()],
        }
    }

    /// Reads frame 4 of a `HANDSHAKE` reply: `None` when it is empty (hololinked) or not this JSON object.
    pub fn parse(frame: &[u8]) -> Option<Self> {
        if frame.is_empty() {
            return None;
        }
        serde_json::from_slice(frame).ok()
    }

    /// The JSON bytes for frame 4.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether the server accepts payloads of `content_type`.
    pub fn accepts(&self, content_type: &ContentType) -> bool {
        self.content_types.iter().any(|c| ContentType::parse(c) == *content_type)
    }

    /// Whether the server reads the compact headers of version 1 ([`compact::V1`]).
    pub fn reads_compact_headers(&self) -> bool {
        self.headers.iter().any(|h| h == compact::V1)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A timeout as hololinked sends it: seconds, where an absent key means "wait forever".
fn seconds_to_duration<E: de::Error>(value: Option<f64>, key: &str) -> Result<Option<Duration>, E> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::try_from_secs_f64(s).ok()),
        Some(s) => Err(E::custom(format_args!("`{key}` must be a non-negative number of seconds, got {s}"))),
    }
}

/// `serverExecutionContext`: the two timeouts and the oneway flag.
///
/// Accepts camelCase and snake_case keys, `null` and `{}`; an absent timeout means "no timeout", as in
/// hololinked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerExecutionContext {
    /// How long the request may wait in the Thing's queue before it starts.
    pub invocation_timeout: Option<Duration>,
    /// How long the operation may run once started.
    pub execution_timeout: Option<Duration>,
    /// No reply is wanted (except a TIMEOUT).
    pub oneway: bool,
}

impl<'de> Deserialize<'de> for ServerExecutionContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServerExecutionContext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with invokationTimeout, executionTimeout and oneway, or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ServerExecutionContext::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ServerExecutionContext::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ctx = ServerExecutionContext::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "invokationTimeout" | "invokation_timeout" | "invocationTimeout" | "invocation_timeout" => {
                            ctx.invocation_timeout = seconds_to_duration(map.next_value::<Option<f64>>()?, &key)?;
                        }
                        "executionTimeout" | "execution_timeout" => {
                            ctx.execution_timeout = seconds_to_duration(map.next_value::<Option<f64>>()?, &key)?;
                        }
                        "oneway" => ctx.oneway = map.next_value::<Option<bool>>()?.unwrap_or(false),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ctx)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `thingExecutionContext`: whether the tracing events emitted during the operation come back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThingExecutionContext {
    /// Reply with `{"return_value": …, "execution_logs": [...]}`.
    pub fetch_execution_logs: bool,
}

impl<'de> Deserialize<'de> for ThingExecutionContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThingExecutionContext;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with fetchExecutionLogs, or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ThingExecutionContext::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ThingExecutionContext::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut ctx = ThingExecutionContext::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match &*key {
                        "fetchExecutionLogs" | "fetch_execution_logs" => {
                            ctx.fetch_execution_logs = map.next_value::<Option<bool>>()?.unwrap_or(false);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(ctx)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A decoded request header (frame 2 of a request).
///
/// Keys may come in any order; only `messageType`, `messageID`, `senderID` and `receiverID` are required.
/// Unlike hololinked, which drops a header with an unknown key without a word, thingwire ignores unknown
/// keys: a newer client stays served.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestHeader<'a> {
    /// `HANDSHAKE`, `OPERATION` or `EXIT` (anything else counts as an operation).
    #[serde(rename = "messageType", borrow)]
    pub message_type: Cow<'a, str>,
    /// Correlation id, echoed in the reply.
    #[serde(rename = "messageID", borrow)]
    pub message_id: Cow<'a, str>,
    /// The client id; replies are routed to it.
    #[serde(rename = "senderID", borrow)]
    pub sender_id: Cow<'a, str>,
    /// The server id (not checked, as in hololinked).
    #[serde(rename = "receiverID", borrow)]
    pub receiver_id: Cow<'a, str>,
    /// Timeouts and the oneway flag.
    #[serde(rename = "serverExecutionContext", default = "default_server_context")]
    pub server_execution_context: ServerExecutionContext,
    /// Whether to return execution logs.
    #[serde(rename = "thingExecutionContext", default)]
    pub thing_execution_context: ThingExecutionContext,
    /// The target Thing (`""` when absent).
    #[serde(rename = "thingID", default, borrow, deserialize_with = "null_as_empty")]
    pub thing_id: Cow<'a, str>,
    /// The property or action name; `None` when the header says `null` (as `readallproperties` needs).
    #[serde(rename = "objekt", default = "empty_objekt", borrow)]
    pub objekt: Option<Cow<'a, str>>,
    /// The operation (`readproperty`, `invokeaction`, …).
    #[serde(rename = "operation", default, borrow, deserialize_with = "null_as_empty")]
    pub operation: Cow<'a, str>,
    /// How frame 3 is encoded.
    #[serde(rename = "payloadContentType", default, borrow, deserialize_with = "null_as_empty")]
    pub payload_content_type: Cow<'a, str>,
    /// A label for frame 4; never decoded.
    #[serde(rename = "preencodedPayloadContentType", default, borrow, deserialize_with = "null_as_empty")]
    pub preencoded_payload_content_type: Cow<'a, str>,
}

fn default_server_context() -> ServerExecutionContext {
    // hololinked fills an absent context with 5 s timeouts; an explicit `{}`/`null` means no timeout.
    ServerExecutionContext {
        invocation_timeout: Some(Duration::from_secs(5)),
        execution_timeout: Some(Duration::from_secs(5)),
        oneway: false,
    }
}

fn empty_objekt<'a>() -> Option<Cow<'a, str>> {
    Some(Cow::Borrowed(""))
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    Ok(<Option<Cow<'de, str>>>::deserialize(d)?.unwrap_or(Cow::Borrowed("")))
}

impl<'a> RequestHeader<'a> {
    /// Decodes a header frame. Keys may be in any order; unknown keys are ignored.
    pub fn decode(frame: &'a [u8]) -> Result<Self, ProtocolError> {
        if frame.is_empty() {
            return Err(ProtocolError::Header("the header frame is empty".into()));
        }
        let text =
            std::str::from_utf8(frame).map_err(|e| ProtocolError::Header(format!("the header is not UTF-8 ({e})")))?;
        if let Some(header) = fast::request_header(text) {
            return Ok(header);
        }
        // serde's derived struct visitor would also take a JSON array, field by field.
        if text.trim_start().starts_with('[') {
            return Err(ProtocolError::Header(
                "the header JSON has the wrong shape: it is an array; the header must be a JSON object with \
                 messageType, messageID, senderID and receiverID"
                    .into(),
            ));
        }
        serde_json::from_str(text).map_err(|e| ProtocolError::Header(describe_json_error(&e)))
    }

    /// The message type as a server reads it.
    pub fn kind(&self) -> MessageType {
        MessageType::of_request(&self.message_type)
    }

    /// The decoded payload content type.
    pub fn content_type(&self) -> ContentType {
        ContentType::parse(&self.payload_content_type)
    }
}

fn describe_json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => format!("the header JSON has the wrong shape: {e}"),
        _ => format!("the header is not valid JSON: {e}"),
    }
}

/// Best-effort recovery of `messageID` and `senderID` from a header that failed to decode, so that the
/// server can still tell the client what was wrong.
pub fn salvage_ids(frame: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(Deserialize)]
    struct Ids {
        #[serde(rename = "messageID", default)]
        message_id: Option<serde_json::Value>,
        #[serde(rename = "senderID", default)]
        sender_id: Option<serde_json::Value>,
    }
    let as_text = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    match serde_json::from_slice::<Ids>(frame) {
        Ok(ids) => (as_text(ids.message_id), as_text(ids.sender_id)),
        Err(_) => (None, None),
    }
}

/// A request header to send (the client side). Serializes with hololinked's key names.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingRequestHeader<'a> {
    /// `HANDSHAKE`, `OPERATION` or `EXIT`.
    #[serde(rename = "messageType")]
    pub message_type: &'a str,
    /// Correlation id.
    #[serde(rename = "messageID")]
    pub message_id: &'a str,
    /// The client id.
    #[serde(rename = "senderID")]
    pub sender_id: &'a str,
    /// The server id (may be empty when unknown).
    #[serde(rename = "receiverID")]
    pub receiver_id: &'a str,
    /// Timeouts in seconds; `None` is sent as an absent key (no timeout).
    #[serde(rename = "serverExecutionContext")]
    pub server_execution_context: OutgoingServerContext,
    /// Execution-log request.
    #[serde(rename = "thingExecutionContext")]
    pub thing_execution_context: OutgoingThingContext,
    /// Target Thing.
    #[serde(rename = "thingID")]
    pub thing_id: &'a str,
    /// Property or action name (`None` is sent as `null`).
    #[serde(rename = "objekt")]
    pub objekt: Option<&'a str>,
    /// Operation name.
    #[serde(rename = "operation")]
    pub operation: &'a str,
    /// Content type of frame 3.
    #[serde(rename = "payloadContentType")]
    pub payload_content_type: &'a str,
    /// Label of frame 4.
    #[serde(rename = "preencodedPayloadContentType")]
    pub preencoded_payload_content_type: &'a str,
}

/// The `serverExecutionContext` a client sends.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OutgoingServerContext {
    /// Seconds; absent means no timeout.
    #[serde(rename = "invokationTimeout", skip_serializing_if = "Option::is_none")]
    pub invokation_timeout: Option<f64>,
    /// Seconds; absent means no timeout.
    #[serde(rename = "executionTimeout", skip_serializing_if = "Option::is_none")]
    pub execution_timeout: Option<f64>,
    /// No reply wanted.
    pub oneway: bool,
}

/// The `thingExecutionContext` a client sends.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OutgoingThingContext {
    /// Ask for execution logs.
    #[serde(rename = "fetchExecutionLogs")]
    pub fetch_execution_logs: bool,
}

impl OutgoingRequestHeader<'_> {
    /// Encodes the header as compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        fast::encode_request_header(self)
    }
}

/// A response header (frame 2 of a reply). Exactly hololinked's six keys, in its order: the Python client
/// rejects a header with any other key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseHeader<'a> {
    /// `HANDSHAKE`, `REPLY`, `TIMEOUT`, `EXCEPTION` or `INVALID_MESSAGE`.
    #[serde(rename = "messageType", borrow)]
    pub message_type: Cow<'a, str>,
    /// Copied from the request.
    #[serde(rename = "messageID", borrow)]
    pub message_id: Cow<'a, str>,
    /// The client id.
    #[serde(rename = "receiverID", borrow)]
    pub receiver_id: Cow<'a, str>,
    /// The server id.
    #[serde(rename = "senderID", borrow)]
    pub sender_id: Cow<'a, str>,
    /// Content type of frame 3.
    #[serde(rename = "payloadContentType", default = "json_type", borrow)]
    pub payload_content_type: Cow<'a, str>,
    /// Label of frame 4.
    #[serde(rename = "preencodedPayloadContentType", default = "text_type", borrow)]
    pub preencoded_payload_content_type: Cow<'a, str>,
}

fn json_type<'a>() -> Cow<'a, str> {
    Cow::Borrowed("application/json")
}

fn text_type<'a>() -> Cow<'a, str> {
    Cow::Borrowed("text/plain")
}

impl<'a> ResponseHeader<'a> {
    /// Decodes a response header (the client side). Unknown keys are ignored.
    pub fn decode(frame: &'a [u8]) -> Result<Self, ProtocolError> {
        if let Some(header) = fast::response_header(frame) {
            return Ok(header);
        }
        serde_json::from_slice(frame).map_err(|e| ProtocolError::Header(describe_json_error(&e)))
    }

    /// Encodes the header as compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the compact JSON encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        fast::encode_response_header(self, out);
    }

    /// The message type, if it is a known one.
    pub fn kind(&self) -> Option<MessageType> {
        MessageType::from_wire(&self.message_type)
    }
}

/// An event header (frame 2 of an event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventHeader<'a> {
    /// Always `EVENT`.
    #[serde(rename = "messageType", borrow)]
    pub message_type: Cow<'a, str>,
    /// A fresh id per event.
    #[serde(rename = "messageID", borrow)]
    pub message_id: Cow<'a, str>,
    /// `<server_id>/event-publisher`.
    #[serde(rename = "senderID", borrow)]
    pub sender_id: Cow<'a, str>,
    /// The topic, `<thing_id>/<event_name>`.
    #[serde(rename = "eventID", borrow)]
    pub event_id: Cow<'a, str>,
    /// Content type of frame 3.
    #[serde(rename = "payloadContentType", default = "json_type", borrow)]
    pub payload_content_type: Cow<'a, str>,
    /// Label of frame 4.
    #[serde(rename = "preencodedPayloadContentType", default = "text_type", borrow)]
    pub preencoded_payload_content_type: Cow<'a, str>,
}

impl<'a> EventHeader<'a> {
    /// Decodes an event header.
    pub fn decode(frame: &'a [u8]) -> Result<Self, ProtocolError> {
        if let Some(header) = fast::event_header(frame) {
            return Ok(header);
        }
        serde_json::from_slice(frame).map_err(|e| ProtocolError::Header(describe_json_error(&e)))
    }

    /// Encodes the header as compact JSON.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the compact JSON encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        fast::encode_event_header(self, out);
    }
}

/// The error object carried by `EXCEPTION` and `INVALID_MESSAGE` replies:
/// `{"exception": {"message", "type", "traceback", "notes"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// The error.
    pub exception: ErrorObject,
}

/// The inner error object. `type` names a Python builtin exception where one fits, so that hololinked's
/// client raises a meaningful class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Human-readable message.
    pub message: String,
    /// Exception class name, e.g. `ValueError`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Never empty: hololinked's client rewrites its first line.
    #[serde(default)]
    pub traceback: Vec<String>,
    /// Extra lines, or `null`.
    #[serde(default)]
    pub notes: Option<Vec<String>>,
}

impl ErrorObject {
    /// An error object with a one-frame traceback that names where it came from.
    pub fn new(kind: impl Into<String>, message: impl Into<String>, origin: &str) -> Self {
        let kind = kind.into();
        let message = message.into();
        let traceback = vec![
            "Traceback (most recent call last):".to_owned(),
            format!("  thingwire server, {origin}"),
            format!("{kind}: {message}"),
        ];
        Self { message, kind, traceback, notes: None }
    }
}

/// The payload of a `TIMEOUT` reply: which of the two timeouts expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The request waited in the Thing's queue too long (`"invokation"`, sic).
    Invocation,
    /// The operation ran too long (`"execution"`).
    Execution,
}

impl TimeoutKind {
    /// The JSON payload hololinked sends, including the quotes.
    pub fn payload(self) -> &'static [u8] {
        match self {
            Self::Invocation => b"\"invokation\"",
            Self::Execution => b"\"execution\"",
        }
    }

    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invocation => "invokation",
            Self::Execution => "execution",
        }
    }

    /// Reads the wire word.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "invokation" | "invocation" => Some(Self::Invocation),
            "execution" => Some(Self::Execution),
            _ => None,
        }
    }
}

pub use names::op;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_header_uses_defaults() {
        let h =
            RequestHeader::decode(br#"{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s"}"#)
                .expect("decodes");
        assert_eq!(h.thing_id, "");
        assert_eq!(h.objekt.as_deref(), Some(""));
        assert_eq!(h.content_type(), ContentType::Json);
        assert_eq!(h.server_execution_context.invocation_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn empty_and_null_contexts_mean_no_timeout() {
        for ctx in ["{}", "null"] {
            let text = format!(
                r#"{{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":{ctx},"thingExecutionContext":{ctx}}}"#
            );
            let h = RequestHeader::decode(text.as_bytes()).expect("decodes");
            assert_eq!(h.server_execution_context, ServerExecutionContext::default(), "{ctx}");
            assert!(!h.thing_execution_context.fetch_execution_logs);
        }
    }

    #[test]
    fn snake_and_camel_keys_are_both_read() {
        let h = RequestHeader::decode(br#"{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":{"invokation_timeout":0.25,"executionTimeout":2,"oneway":true},"thingExecutionContext":{"fetch_execution_logs":true}}"#).expect("decodes");
        let c = h.server_execution_context;
        assert_eq!(c.invocation_timeout, Some(Duration::from_millis(250)));
        assert_eq!(c.execution_timeout, Some(Duration::from_secs(2)));
        assert!(c.oneway);
        assert!(h.thing_execution_context.fetch_execution_logs);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"\xff\xfe", "not UTF-8"),
            (b"not json", "not valid JSON"),
            (br#"{"messageType":"OPERATION","senderID":"c","receiverID":"s"}"#, "messageID"),
            (br#"{"messageType":"OPERATION","messageID":7,"senderID":"c","receiverID":"s"}"#, "wrong shape"),
            (br#"{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":{"executionTimeout":-1}}"#, "non-negative"),
            (br#"{"messageType":"OPERATION","messageID":"1","senderID":"c","receiverID":"s","serverExecutionContext":[1]}"#, "invokationTimeout"),
            (b"[1,2]", "wrong shape"),
        ];
        for (frame, expected) in cases {
            let err = RequestHeader::decode(frame).expect_err("must fail");
            assert!(err.to_string().contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn unknown_header_keys_are_ignored() {
        let h = RequestHeader::decode(
            br#"{"messageType":"FOO","messageID":"1","senderID":"c","receiverID":"s","extra":{"a":[1]}}"#,
        )
        .expect("decodes");
        assert_eq!(h.kind(), MessageType::Operation);
    }

    #[test]
    fn payload_codecs_round_trip_and_fail_cleanly() {
        let v = vec![1.5f64, -2.0];
        for ct in [ContentType::Json, ContentType::Msgpack] {
            let bytes = encode(&v, &ct).expect("encodes");
            let back: Vec<f64> = decode(&bytes, &ct).expect("decodes");
            assert_eq!(back, v);
            assert!(decode::<Vec<f64>>(b"", &ct).is_err(), "empty payload is an error for {ct}");
        }
        assert_eq!(decode::<String>(b"hello", &ContentType::Text).expect("text"), "hello");
        let err = decode::<f64>(b"1", &ContentType::parse("application/x-pickle")).expect_err("pickle");
        assert!(matches!(err, ProtocolError::UnsupportedContentType(_)));
    }

    #[test]
    fn response_header_has_exactly_the_six_keys_in_order() {
        let h = ResponseHeader {
            message_type: "REPLY".into(),
            message_id: "m".into(),
            receiver_id: "c".into(),
            sender_id: "s".into(),
            payload_content_type: "application/json".into(),
            preencoded_payload_content_type: "text/plain".into(),
        };
        assert_eq!(
            String::from_utf8(h.encode()).expect("utf8"),
            r#"{"messageType":"REPLY","messageID":"m","receiverID":"c","senderID":"s","payloadContentType":"application/json","preencodedPayloadContentType":"text/plain"}"#
        );
    }
}
