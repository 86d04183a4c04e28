//! The compact header between thingwire peers (docs/protocol.md, "Compact headers between thingwire
//! peers"): a binary request and reply header with fixed fields for the common case, agreed in the
//! handshake, so that a request is two frames (`[header + payload]`, plus one each for a large payload and
//! for raw bytes) instead of hololinked's five with ~330 bytes of JSON. A hololinked peer never sees it.
//!
//! Layout, integers little-endian:
//!
//! ```text
//! request:  FE 01 type op ct flags | id: u64 | [invocation µs: u64] [execution µs: u64]
//!           | thing: str | name: str | [operation: str] [content type: str] | payload…
//! reply:    FE 01 type ct flags    | id: u64 | [content type: str] | payload…
//! str:      length: u16, then that many bytes of UTF-8
//! ```
//!
//! Decoding never panics and never reads past the frame: every malformed header is a
//! [`ProtocolError::Header`] that says what was wrong.

use std::ops::Range;
use std::time::Duration;

use super::names::op;
use super::{ContentType, MessageType, ProtocolError};

/// The first byte of every compact header. `0xFE` never begins UTF-8 text, so it is never the first byte of
/// a JSON header, and a server tells the two apart by it.
pub const MAGIC: u8 = 0xFE;

/// The layout version this implementation writes and reads.
pub const VERSION: u8 = 1;

/// How a server names the compact headers it reads in its handshake reply ([`super::HandshakeInfo::headers`]).
pub const V1: &str = "x-thingwire-compact/1";

/// Payloads up to this size travel inside the header's frame (one copy, one frame fewer); larger ones get a
/// frame of their own, which is handed to ZeroMQ without a copy.
pub const INLINE_MAX: usize = 16 * 1024;

/// Request flags.
pub mod flag {
    /// No reply is wanted.
    pub const ONEWAY: u8 = 0x01;
    /// Ask for the log lines of the operation.
    pub const FETCH_LOGS: u8 = 0x02;
    /// An invocation timeout follows the id.
    pub const INVOCATION_TIMEOUT: u8 = 0x04;
    /// An execution timeout follows (after the invocation timeout when both are there).
    pub const EXECUTION_TIMEOUT: u8 = 0x08;
    /// The payload is the next frame, not the rest of the header's frame.
    pub const PAYLOAD_FRAME: u8 = 0x10;
    /// Raw bytes (hololinked's frame 4) come in the last frame.
    pub const PRESERIALIZED: u8 = 0x20;
    /// The name is `null` (hololinked's `objekt: null`), not a string.
    pub const NO_NAME: u8 = 0x40;
    /// Bits a request may set; the others are reserved and must be zero.
    pub const REQUEST: u8 = 0x7f;
    /// Bits a reply may set.
    pub const REPLY: u8 = PAYLOAD_FRAME | PRESERIALIZED;
}

/// Operations by number, in the order of their codes; code `0xFF` spells the operation out.
pub const OPERATIONS: [&str; 12] = [
    op::READ_PROPERTY,
    op::WRITE_PROPERTY,
    op::INVOKE_ACTION,
    op::READ_MULTIPLE_PROPERTIES,
    op::READ_ALL_PROPERTIES,
    op::WRITE_MULTIPLE_PROPERTIES,
    op::WRITE_ALL_PROPERTIES,
    op::DELETE_PROPERTY,
    op::OBSERVE_PROPERTY,
    op::UNOBSERVE_PROPERTY,
    op::SUBSCRIBE_EVENT,
    op::UNSUBSCRIBE_EVENT,
];

/// The code that says "spelled out below" for an operation or content type.
const SPELLED: u8 = 0xFF;

const REQUEST_TYPES: [MessageType; 3] = [MessageType::Operation, MessageType::Handshake, MessageType::Exit];
const REPLY_TYPES: [MessageType; 5] = [
    MessageType::Reply,
    MessageType::Timeout,
    MessageType::Exception,
    MessageType::InvalidMessage,
    MessageType::Handshake,
];

fn content_type_code(ct: &ContentType) -> u8 {
    match ct {
        ContentType::Json => 0,
        ContentType::Msgpack => 1,
        ContentType::ThingwireMsgpack => 2,
        ContentType::Text => 3,
        ContentType::Other(_) => SPELLED,
    }
}

fn content_type_of(code: u8) -> Option<ContentType> {
    Some(match code {
        0 => ContentType::Json,
        1 => ContentType::Msgpack,
        2 => ContentType::ThingwireMsgpack,
        3 => ContentType::Text,
        _ => return None,
    })
}

/// Whether a header frame is a compact one (by its first byte).
pub fn is_compact(frame: &[u8]) -> bool {
    frame.first() == Some(&MAGIC)
}

/// A decoded compact request header. Strings are ranges into the frame, so that a server can move the
/// frame into the request's body and still read them ([`CompactRequest::str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRequest {
    /// `OPERATION`, `HANDSHAKE` or `EXIT`.
    pub kind: MessageType,
    /// The client's correlation id, echoed in the reply.
    pub message_id: u64,
    /// The operation: one of [`OPERATIONS`], or where it is spelled out in the frame.
    pub operation: Text,
    /// How the payload is encoded; [`ContentType::Other`] when spelled out.
    pub content_type: ContentType,
    /// How long the request may wait in the Thing's queue; `None` for no limit.
    pub invocation_timeout: Option<Duration>,
    /// How long it may run; `None` for no limit.
    pub execution_timeout: Option<Duration>,
    /// No reply is wanted.
    pub oneway: bool,
    /// Log lines are asked for.
    pub fetch_logs: bool,
    /// The Thing id, in the frame.
    pub thing_id: Range<usize>,
    /// The property or action name, in the frame; `None` for `null`.
    pub name: Option<Range<usize>>,
    /// The payload in the header's frame; `None` when it is the next frame.
    pub inline_payload: Option<Range<usize>>,
    /// Raw bytes come in the last frame.
    pub preserialized: bool,
}

/// A string field: a known name, or a range of the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// One of the names this version numbers.
    Known(&'static str),
    /// Spelled out in the frame.
    In(Range<usize>),
}

impl CompactRequest {
    /// The text of `range` in `frame` (the frame this header was decoded from; checked UTF-8 then).
    pub fn str<'f>(frame: &'f [u8], range: &Range<usize>) -> &'f str {
        frame.get(range.clone()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }

    /// The operation's name, read from `frame` where it is spelled out.
    pub fn operation<'f>(&self, frame: &'f [u8]) -> &'f str {
        match &self.operation {
            Text::Known(name) => name,
            Text::In(range) => Self::str(frame, range),
        }
    }

    /// How many frames this request has, its header's included.
    pub fn frames(&self) -> usize {
        frame_count(&self.inline_payload, self.preserialized)
    }

    /// Decodes a compact request header.
    pub fn decode(frame: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(frame)?;
        let kind = *REQUEST_TYPES
            .get(usize::from(r.u8("message type")?))
            .ok_or_else(|| bad(format!("message type code {} is not one of 0–2", frame[2])))?;
        let op_code = r.u8("operation")?;
        let ct_code = r.u8("content type")?;
        let flags = r.flags(flag::REQUEST)?;
        let message_id = r.u64("message id")?;
        let invocation_timeout =
            if flags & flag::INVOCATION_TIMEOUT != 0 { Some(r.micros("invocation timeout")?) } else { None };
        let execution_timeout =
            if flags & flag::EXECUTION_TIMEOUT != 0 { Some(r.micros("execution timeout")?) } else { None };
        let thing_id = r.str("thing id")?;
        let name = r.str("name")?;
        let name = if flags & flag::NO_NAME != 0 {
            if !name.is_empty() {
                return Err(bad("the name is flagged null but is not empty".into()));
            }
            None
        } else {
            Some(name)
        };
        let operation = match op_code {
            SPELLED => Text::In(r.str("operation")?),
            code => Text::Known(
                OPERATIONS
                    .get(usize::from(code))
                    .ok_or_else(|| bad(format!("operation code {code} is not one of 0–11 or 255")))?,
            ),
        };
        let content_type = match ct_code {
            SPELLED => ContentType::parse(CompactRequest::str(frame, &r.str("content type")?)),
            code => content_type_of(code)
                .ok_or_else(|| bad(format!("content type code {code} is not one of 0–3 or 255")))?,
        };
        let inline_payload = if flags & flag::PAYLOAD_FRAME != 0 {
            if r.at != frame.len() {
                return Err(bad("the payload is flagged as a frame of its own, but bytes follow the header".into()));
            }
            None
        } else {
            Some(r.at..frame.len())
        };
        Ok(Self {
            kind,
            message_id,
            operation,
            content_type,
            invocation_timeout,
            execution_timeout,
            oneway: flags & flag::ONEWAY != 0,
            fetch_logs: flags & flag::FETCH_LOGS != 0,
            thing_id,
            name,
            inline_payload,
            preserialized: flags & flag::PRESERIALIZED != 0,
        })
    }
}

/// What a compact request says, to encode it.
#[derive(Debug, Clone)]
pub struct OutgoingCompactRequest<'a> {
    /// `OPERATION`, `HANDSHAKE` or `EXIT`.
    pub kind: MessageType,
    /// The correlation id.
    pub message_id: u64,
    /// The Thing id.
    pub thing_id: &'a str,
    /// The property or action name; `None` is sent as `null`.
    pub name: Option<&'a str>,
    /// The operation's wire name.
    pub operation: &'a str,
    /// How the payload is encoded.
    pub content_type: &'a ContentType,
    /// Queue timeout; `None` for no limit.
    pub invocation_timeout: Option<Duration>,
    /// Run timeout; `None` for no limit.
    pub execution_timeout: Option<Duration>,
    /// No reply is wanted.
    pub oneway: bool,
    /// Ask for log lines.
    pub fetch_logs: bool,
    /// Raw bytes follow in the last frame.
    pub preserialized: bool,
}

impl OutgoingCompactRequest<'_> {
    /// The header frame, with `payload` inside it when it is at most [`INLINE_MAX`] bytes; `false` in the
    /// second place when the payload must go as a frame of its own. Strings over 65 535 bytes cannot be
    /// sent: an [`ProtocolError::Encode`].
    pub fn encode(&self, payload: &[u8]) -> Result<(Vec<u8>, bool), ProtocolError> {
        let inline = payload.len() <= INLINE_MAX;
        let op_code = OPERATIONS.iter().position(|o| *o == self.operation).map_or(SPELLED, |i| i as u8);
        let ct_code = content_type_code(self.content_type);
        let mut flags = 0;
        for (on, bit) in [
            (self.oneway, flag::ONEWAY),
            (self.fetch_logs, flag::FETCH_LOGS),
            (self.invocation_timeout.is_some(), flag::INVOCATION_TIMEOUT),
            (self.execution_timeout.is_some(), flag::EXECUTION_TIMEOUT),
            (!inline, flag::PAYLOAD_FRAME),
            (self.preserialized, flag::PRESERIALIZED),
            (self.name.is_none(), flag::NO_NAME),
        ] {
            if on {
                flags |= bit;
            }
        }
        let kind = REQUEST_TYPES.iter().position(|k| *k == self.kind).unwrap_or(0) as u8;
        let name = self.name.unwrap_or("");
        let spelled_op = (op_code == SPELLED).then_some(self.operation);
        let spelled_ct = (ct_code == SPELLED).then(|| self.content_type.as_str());
        let length = 14
            + 16
            + 4
            + self.thing_id.len()
            + name.len()
            + spelled_op.map_or(0, |s| 2 + s.len())
            + spelled_ct.map_or(0, |s| 2 + s.len())
            + if inline { payload.len() } else { 0 };
        let mut out = Vec::with_capacity(length);
        out.extend_from_slice(&[MAGIC, VERSION, kind, op_code, ct_code, flags]);
        out.extend_from_slice(&self.message_id.to_le_bytes());
        for t in [self.invocation_timeout, self.execution_timeout].into_iter().flatten() {
            out.extend_from_slice(&u64::try_from(t.as_micros()).unwrap_or(u64::MAX).to_le_bytes());
        }
        for (field, s) in [("thing id", Some(self.thing_id)), ("name", Some(name)), ("operation", spelled_op)] {
            if let Some(s) = s {
                push_str(&mut out, field, s)?;
            }
        }
        if let Some(s) = spelled_ct {
            push_str(&mut out, "content type", s)?;
        }
        if inline {
            out.extend_from_slice(payload);
        }
        Ok((out, inline))
    }
}

/// A decoded compact reply header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactReply {
    /// `REPLY`, `TIMEOUT`, `EXCEPTION`, `INVALID_MESSAGE` or `HANDSHAKE`.
    pub kind: MessageType,
    /// The request's id.
    pub message_id: u64,
    /// How the payload is encoded.
    pub content_type: ContentType,
    /// The payload in the header's frame; `None` when it is the next frame.
    pub inline_payload: Option<Range<usize>>,
    /// Raw bytes come in the last frame.
    pub preserialized: bool,
}

impl CompactReply {
    /// How many frames this reply has, its header's included.
    pub fn frames(&self) -> usize {
        frame_count(&self.inline_payload, self.preserialized)
    }

    /// Decodes a compact reply header.
    pub fn decode(frame: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(frame)?;
        let kind = *REPLY_TYPES
            .get(usize::from(r.u8("message type")?))
            .ok_or_else(|| bad(format!("reply type code {} is not one of 0–4", frame[2])))?;
        let ct_code = r.u8("content type")?;
        let flags = r.flags(flag::REPLY)?;
        let message_id = r.u64("message id")?;
        let content_type = match ct_code {
            SPELLED => ContentType::parse(CompactRequest::str(frame, &r.str("content type")?)),
            code => content_type_of(code)
                .ok_or_else(|| bad(format!("content type code {code} is not one of 0–3 or 255")))?,
        };
        let inline_payload = if flags & flag::PAYLOAD_FRAME != 0 {
            if r.at != frame.len() {
                return Err(bad("the payload is flagged as a frame of its own, but bytes follow the header".into()));
            }
            None
        } else {
            Some(r.at..frame.len())
        };
        Ok(Self { kind, message_id, content_type, inline_payload, preserialized: flags & flag::PRESERIALIZED != 0 })
    }

    /// Encodes a reply header, with `payload` inside it when it is at most [`INLINE_MAX`] bytes (`false` in
    /// the second place when it must go as a frame of its own).
    pub fn encode(
        kind: MessageType,
        message_id: u64,
        content_type: &ContentType,
        payload: &[u8],
        preserialized: bool,
    ) -> (Vec<u8>, bool) {
        Self::encode_in(kind, message_id, content_type, payload, preserialized, |n| vec![0; n])
    }

    /// [`CompactReply::encode`] into a buffer of the exact size that `buffer` makes, such as a transport's
    /// message, so that the reply is written once, where it is sent from.
    pub fn encode_in<B: std::ops::DerefMut<Target = [u8]>>(
        kind: MessageType,
        message_id: u64,
        content_type: &ContentType,
        payload: &[u8],
        preserialized: bool,
        buffer: impl FnOnce(usize) -> B,
    ) -> (B, bool) {
        let inline = payload.len() <= INLINE_MAX;
        // A content type too long for the length field cannot be labelled; nothing thingwire sends is.
        let (ct_code, spelled) = match content_type_code(content_type) {
            SPELLED => match u16::try_from(content_type.as_str().len()) {
                Ok(length) => (SPELLED, Some((length, content_type.as_str()))),
                Err(_) => (0, None),
            },
            code => (code, None),
        };
        let flags = if inline { 0 } else { flag::PAYLOAD_FRAME } | if preserialized { flag::PRESERIALIZED } else { 0 };
        let kind = REPLY_TYPES.iter().position(|k| *k == kind).unwrap_or(2) as u8;
        let head = 13 + spelled.map_or(0, |(_, s)| 2 + s.len());
        let mut buffer = buffer(head + if inline { payload.len() } else { 0 });
        // One `deref_mut`: a transport's message may answer it with a foreign call each time.
        let out: &mut [u8] = &mut buffer;
        out[..5].copy_from_slice(&[MAGIC, VERSION, kind, ct_code, flags]);
        out[5..13].copy_from_slice(&message_id.to_le_bytes());
        if let Some((length, s)) = spelled {
            out[13..15].copy_from_slice(&length.to_le_bytes());
            out[15..head].copy_from_slice(s.as_bytes());
        }
        if inline {
            out[head..].copy_from_slice(payload);
        }
        (buffer, inline)
    }
}

fn bad(message: String) -> ProtocolError {
    ProtocolError::Header(format!("compact header: {message}"))
}

fn push_str(out: &mut Vec<u8>, field: &str, s: &str) -> Result<(), ProtocolError> {
    let length = u16::try_from(s.len()).map_err(|_| ProtocolError::Encode {
        content_type: V1.into(),
        reason: format!("the {field} is {} bytes; a compact header holds at most 65535", s.len()),
    })?;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// A header's frames: its own, the payload's when it is not inline, the raw bytes' when there are some.
fn frame_count(inline_payload: &Option<Range<usize>>, preserialized: bool) -> usize {
    1 + usize::from(inline_payload.is_none()) + usize::from(preserialized)
}

/// Reads fields off a header, checking the magic byte and the version first.
struct Reader<'a> {
    frame: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(frame: &'a [u8]) -> Result<Self, ProtocolError> {
        match frame {
            [MAGIC, VERSION, ..] => Ok(Self { frame, at: 2 }),
            [MAGIC, version, ..] => Err(bad(format!(
                "version {version} is not one this peer reads (it reads version {VERSION}, `{V1}`); connect \
                 again so that the handshake picks a version both sides know"
            ))),
            [MAGIC] => Err(bad("the header ends after its first byte".into())),
            _ => Err(bad("the header does not begin with 0xFE".into())),
        }
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], ProtocolError> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.frame.len()).ok_or_else(|| {
            bad(format!("the header ends inside the {field} (byte {} of {})", self.at, self.frame.len()))
        })?;
        let bytes = &self.frame[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u8(&mut self, field: &str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, field)?[0])
    }

    /// The flags byte, refused when it sets a bit outside `allowed` (reserved bits must be zero).
    fn flags(&mut self, allowed: u8) -> Result<u8, ProtocolError> {
        let flags = self.u8("flags")?;
        match flags & !allowed {
            0 => Ok(flags),
            reserved => Err(bad(format!("reserved flag bits {reserved:#04x} are set"))),
        }
    }

    fn u64(&mut self, field: &str) -> Result<u64, ProtocolError> {
        let bytes = self.take(8, field)?;
        Ok(u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])))
    }

    fn micros(&mut self, field: &str) -> Result<Duration, ProtocolError> {
        Ok(Duration::from_micros(self.u64(field)?))
    }

    /// A length-prefixed string: its range in the frame, checked to be UTF-8.
    fn str(&mut self, field: &str) -> Result<Range<usize>, ProtocolError> {
        let length = self.take(2, field)?;
        let length = usize::from(u16::from_le_bytes([length[0], length[1]]));
        let start = self.at;
        let bytes = self.take(length, field)?;
        std::str::from_utf8(bytes).map_err(|e| bad(format!("the {field} is not UTF-8 ({e})")))?;
        Ok(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(ct: &'a ContentType, operation: &'a str) -> OutgoingCompactRequest<'a> {
        OutgoingCompactRequest {
            kind: MessageType::Operation,
            message_id: 0x1234_5678_9abc,
            thing_id: "stage",
            name: Some("position"),
            operation,
            content_type: ct,
            invocation_timeout: Some(Duration::from_millis(1500)),
            execution_timeout: None,
            oneway: false,
            fetch_logs: true,
            preserialized: true,
        }
    }

    #[test]
    fn a_request_round_trips_with_its_payload_inside() {
        let ct = ContentType::Msgpack;
        let (frame, inline) = request(&ct, "readproperty").encode(b"\xc0").expect("encode");
        assert!(inline);
        assert_eq!(frame.len(), 14 + 8 + 2 + 5 + 2 + 8 + 1, "fixed part, one timeout, two strings, payload");
        let h = CompactRequest::decode(&frame).expect("decode");
        assert_eq!(h.kind, MessageType::Operation);
        assert_eq!(h.message_id, 0x1234_5678_9abc);
        assert_eq!(h.operation(&frame), "readproperty");
        assert_eq!(h.content_type, ContentType::Msgpack);
        assert_eq!((h.invocation_timeout, h.execution_timeout), (Some(Duration::from_millis(1500)), None));
        assert!(h.fetch_logs && !h.oneway && h.preserialized);
        assert_eq!(CompactRequest::str(&frame, &h.thing_id), "stage");
        assert_eq!(h.name.as_ref().map(|r| CompactRequest::str(&frame, r)), Some("position"));
        assert_eq!(&frame[h.inline_payload.clone().expect("inline")], b"\xc0");
        assert_eq!(h.frames(), 2);
    }

    #[test]
    fn unknown_operations_and_content_types_are_spelled_out() {
        let ct = ContentType::Other("application/x-pickle".into());
        let (frame, _) = request(&ct, "frobnicate").encode(b"").expect("encode");
        let h = CompactRequest::decode(&frame).expect("decode");
        assert_eq!(h.operation(&frame), "frobnicate");
        assert_eq!(h.content_type, ct);
    }

    #[test]
    fn a_large_payload_gets_a_frame_of_its_own() {
        let ct = ContentType::Json;
        let mut r = request(&ct, "writeproperty");
        r.name = None;
        r.preserialized = false;
        let (frame, inline) = r.encode(&vec![b'1'; INLINE_MAX + 1]).expect("encode");
        assert!(!inline);
        let h = CompactRequest::decode(&frame).expect("decode");
        assert_eq!((h.frames(), h.inline_payload, h.name), (2, None, None));
    }

    #[test]
    fn a_reply_round_trips() {
        for (kind, ct) in [
            (MessageType::Reply, ContentType::ThingwireMsgpack),
            (MessageType::Exception, ContentType::Json),
            (MessageType::Timeout, ContentType::Other("text/csv".into())),
        ] {
            let (frame, inline) = CompactReply::encode(kind, 7, &ct, b"42", false);
            assert!(inline);
            let h = CompactReply::decode(&frame).expect("decode");
            assert_eq!((h.kind, h.message_id, &h.content_type, h.preserialized), (kind, 7, &ct, false));
            assert_eq!(&frame[h.inline_payload.expect("inline")], b"42");
        }
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let ct = ContentType::Json;
        let (frame, _) = request(&ct, "readproperty").encode(b"").expect("encode");
        let error = |bytes: &[u8]| CompactRequest::decode(bytes).expect_err("refused").to_string();
        assert!(error(&frame[..10]).contains("ends inside the message id"), "{}", error(&frame[..10]));
        assert!(error(&[MAGIC, 9, 0]).contains("version 9"));
        assert!(error(b"{}").contains("0xFE"));
        let mut reserved = frame.clone();
        reserved[5] |= 0x80;
        assert!(error(&reserved).contains("reserved flag bits 0x80"));
        let mut op = frame.clone();
        op[3] = 40;
        assert!(error(&op).contains("operation code 40"));
        let mut utf8 = frame.clone();
        let at = frame.windows(5).position(|w| w == b"stage").expect("thing id");
        utf8[at] = 0xff;
        assert!(error(&utf8).contains("thing id is not UTF-8"));
        // Every truncation is refused or decodes to something no longer than the frame, never a panic.
        for end in 0..frame.len() {
            let _ = CompactRequest::decode(&frame[..end]);
            let _ = CompactReply::decode(&frame[..end]);
        }
    }
}
