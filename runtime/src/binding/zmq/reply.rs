//! Answers on the ZeroMQ wire: every reply is five frames addressed to the request header's `senderID` (or,
//! for a message that could not be read, to the routing id of the socket that sent it) and handed to the
//! socket task of the transport the request came in on.
//!
//! An admitted request holds one of its client's in-flight slots (counted by the socket task, per routing
//! id): its reply carries the slot back, so the count drops exactly when the reply goes out; a request that
//! is never answered (oneway, or whose answer was suppressed) gives the slot back when its sink is dropped.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::core::{ErrorClass, Reply, ReplySink, wrap_with_logs};
use crate::error::ThingError;
use crate::protocol::compact::CompactReply;
use crate::protocol::{ContentType, ErrorPayload, HandshakeInfo, MessageType, NULL_PAYLOAD, ResponseHeader};

/// What a socket task is handed: frames to send (none when only a slot comes back), and the routing id of
/// the client whose in-flight slot is released with them.
pub(crate) struct Outgoing {
    pub(crate) frames: Vec<zmq::Message>,
    pub(crate) release: Option<zmq::Message>,
}

/// Where and how to answer one request: the binding's [`ReplySink`].
pub(crate) struct ZmqSink {
    tx: mpsc::UnboundedSender<Outgoing>,
    server_id: Arc<str>,
    /// The `receiverID` of the reply, and where it is routed unless `route` is set.
    receiver: String,
    /// The raw routing id to send to, when it is not `receiver` (a peer whose id is not UTF-8, or a compact
    /// request, which names no receiver); held inline by libzmq when it is short, as client ids are.
    route: Option<zmq::Message>,
    message_id: String,
    /// The request came with a compact header ([`crate::protocol::compact`]) and this id: the reply gets one
    /// too.
    compact: Option<u64>,
    oneway: bool,
    /// The routing id whose in-flight slot this request holds; given back with the first reply or on drop.
    slot: Mutex<Option<zmq::Message>>,
}

impl Drop for ZmqSink {
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(client) = slot {
            let _ = self.tx.send(Outgoing { frames: Vec::new(), release: Some(client) });
        }
    }
}

impl ZmqSink {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Outgoing>,
        server_id: Arc<str>,
        receiver: String,
        message_id: String,
        oneway: bool,
    ) -> Self {
        Self { tx, server_id, receiver, route: None, message_id, compact: None, oneway, slot: Mutex::new(None) }
    }

    /// Answers with compact headers, to the request of this id.
    pub(crate) fn compact(mut self, id: u64) -> Self {
        self.compact = Some(id);
        self
    }

    /// Routes the answer to this raw routing id instead of the `receiverID`.
    pub(crate) fn routed_to(mut self, peer: &[u8]) -> Self {
        self.route = Some(zmq::Message::from(peer));
        self
    }

    /// Makes this request hold an in-flight slot of the client with routing id `client`.
    pub(crate) fn hold_slot(&mut self, client: zmq::Message) {
        *self.slot.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(client);
    }

    fn send_frames(&self, kind: MessageType, content_type: &ContentType, payload: Vec<u8>, preserialized: Vec<u8>) {
        let preencoded = if preserialized.is_empty() { "text/plain" } else { "application/octet-stream" };
        self.send_with(kind, content_type, payload, preserialized, preencoded);
    }

    fn send_with(
        &self,
        kind: MessageType,
        content_type: &ContentType,
        payload: Vec<u8>,
        preserialized: Vec<u8>,
        preencoded_content_type: &str,
    ) {
        let route = zmq::Message::from(self.route.as_deref().unwrap_or(self.receiver.as_bytes()));
        let frames = match self.compact {
            Some(id) => {
                // `[header + payload]`, the payload in a frame of its own when large, raw bytes last.
                // Written straight into the message libzmq sends: one allocation, no copy after it.
                let (header, inline) = CompactReply::encode_in(
                    kind,
                    id,
                    content_type,
                    &payload,
                    !preserialized.is_empty(),
                    zmq::Message::with_size,
                );
                let mut frames = Vec::with_capacity(4);
                frames.extend([route, header]);
                if !inline {
                    frames.push(zmq::Message::from(payload));
                }
                if !preserialized.is_empty() {
                    frames.push(message_from(preserialized));
                }
                frames
            }
            None => {
                let header = ResponseHeader {
                    message_type: kind.as_str().into(),
                    message_id: self.message_id.as_str().into(),
                    receiver_id: self.receiver.as_str().into(),
                    sender_id: (*self.server_id).into(),
                    payload_content_type: content_type.as_str().into(),
                    preencoded_payload_content_type: preencoded_content_type.into(),
                };
                let mut header_bytes = Vec::with_capacity(200 + self.message_id.len() + self.receiver.len());
                header.encode_into(&mut header_bytes);
                vec![
                    route,
                    zmq::Message::new(),
                    zmq::Message::from(&header_bytes[..]),
                    message_from(payload),
                    message_from(preserialized),
                ]
            }
        };
        let release = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.tx.send(Outgoing { frames, release }).is_err() {
            tracing::debug!(message_id = %self.message_id, "reply dropped: the transport is closed");
        }
    }

    /// `HANDSHAKE` reply: `null`, and in frame 4 what this server is ([`HandshakeInfo`], JSON), which
    /// hololinked's client does not read.
    pub(crate) fn handshake(&self) {
        let info = HandshakeInfo::this_server().encode();
        self.send_with(MessageType::Handshake, &ContentType::Json, NULL_PAYLOAD.to_vec(), info, "application/json");
    }

    /// A refusal of the binding's own (a malformed message, a limit): `INVALID_MESSAGE`, always sent.
    pub(crate) fn invalid(&self, message: String) {
        tracing::debug!(%message, "invalid message");
        self.error(MessageType::InvalidMessage, &ThingError::value_error(message), "message border", None);
    }

    /// An `EXCEPTION` of the binding's own (a refused remote `EXIT`), suppressed for oneway requests.
    pub(crate) fn exception(&self, error: &ThingError, origin: &str) {
        self.error(MessageType::Exception, error, origin, None);
    }

    fn error(&self, kind: MessageType, error: &ThingError, origin: &str, logs: Option<&[String]>) {
        if self.oneway && kind == MessageType::Exception {
            return;
        }
        let object = error.to_error_object(origin);
        let mut payload = serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default();
        if let Some(logs) = logs {
            // `{"exception": {...}, "execution_logs": [...]}`: reopen the object and append the key.
            payload.pop();
            payload.extend_from_slice(b",\"execution_logs\":");
            let _ = serde_json::to_writer(&mut payload, logs);
            payload.push(b'}');
        }
        self.send_frames(kind, &ContentType::Json, payload, Vec::new());
    }
}

impl ReplySink for ZmqSink {
    fn send(&self, reply: Reply<'_>) {
        match reply {
            // Suppressed for oneway requests.
            Reply::Value { .. } if self.oneway => {}
            Reply::Value { content_type, output, logs: None } => {
                self.send_frames(MessageType::Reply, content_type, output.payload, output.preserialized)
            }
            Reply::Value { content_type, output, logs: Some(logs) } => {
                let payload = wrap_with_logs("return_value", &output.payload, logs, content_type);
                self.send_frames(MessageType::Reply, content_type, payload, output.preserialized)
            }
            Reply::Error { class, error, origin, logs } => {
                // hololinked refuses an unknown Thing as an invalid message; everything else is an exception.
                let kind = match class {
                    ErrorClass::Invalid | ErrorClass::UnknownThing => MessageType::InvalidMessage,
                    _ => MessageType::Exception,
                };
                self.error(kind, error, &origin.to_string(), logs)
            }
            // Sent even for oneway requests, as hololinked does.
            Reply::Timeout(kind) => {
                self.send_frames(MessageType::Timeout, &ContentType::Json, kind.payload().to_vec(), Vec::new())
            }
        }
    }

    fn client(&self) -> String {
        match &self.route {
            Some(route) if self.receiver.is_empty() => String::from_utf8_lossy(route).into_owned(),
            _ => self.receiver.clone(),
        }
    }
}

/// Small frames are copied into libzmq's inline storage; large ones are handed over without a copy.
fn message_from(bytes: Vec<u8>) -> zmq::Message {
    if bytes.len() <= 64 { zmq::Message::from(&bytes[..]) } else { zmq::Message::from(bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Origin;
    use crate::protocol::{ContentType, TimeoutKind};
    use crate::thing::Output;

    fn sink(oneway: bool) -> (ZmqSink, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ZmqSink::new(tx, Arc::from("server"), "client".into(), "m1".into(), oneway), rx)
    }

    fn sent(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<String> {
        let mut kinds = Vec::new();
        while let Ok(out) = rx.try_recv() {
            if let Some(header) = out.frames.get(2) {
                let header = ResponseHeader::decode(header).expect("header");
                kinds.push(header.message_type.into_owned());
            }
        }
        kinds
    }

    fn answer_all(sink: &ZmqSink) {
        let origin = Origin { thing: "t", operation: "invokeaction", name: "a" };
        let error = ThingError::value_error("no");
        sink.send(Reply::Value {
            content_type: &ContentType::Json,
            output: Output::none(&ContentType::Json),
            logs: None,
        });
        sink.send(Reply::Error { class: ErrorClass::Failed, error: &error, origin, logs: None });
        sink.send(Reply::Error { class: ErrorClass::UnknownThing, error: &error, origin, logs: None });
        sink.send(Reply::Timeout(TimeoutKind::Execution));
    }

    #[test]
    fn a_oneway_request_gets_only_its_timeouts_and_invalid_messages() {
        let (oneway, mut rx) = sink(true);
        answer_all(&oneway);
        assert_eq!(sent(&mut rx), ["INVALID_MESSAGE", "TIMEOUT"], "as hololinked: no REPLY, no EXCEPTION");
        let (normal, mut rx) = sink(false);
        answer_all(&normal);
        assert_eq!(sent(&mut rx), ["REPLY", "EXCEPTION", "INVALID_MESSAGE", "TIMEOUT"]);
    }

    #[test]
    fn the_slot_goes_back_with_the_first_reply_or_when_the_sink_is_dropped() {
        let (mut answered, mut rx) = sink(false);
        answered.hold_slot(zmq::Message::from(&b"peer"[..]));
        answered.send(Reply::Timeout(TimeoutKind::Execution));
        let first = rx.try_recv().expect("the reply");
        assert_eq!(first.release.as_deref(), Some(&b"peer"[..]));
        drop(answered);
        assert!(rx.try_recv().is_err(), "given back once");
        let (mut unanswered, mut rx) = sink(true);
        unanswered.hold_slot(zmq::Message::from(&b"peer"[..]));
        drop(unanswered);
        let released = rx.try_recv().expect("a release");
        assert!(released.frames.is_empty());
        assert_eq!(released.release.as_deref(), Some(&b"peer"[..]));
    }
}
