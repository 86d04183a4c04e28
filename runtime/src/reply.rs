//! Building and routing replies: every reply is five frames addressed to the request header's `senderID`
//! (or, for a message that could not be read, to the routing id of the socket that sent it) and handed to
//! the socket task of the transport the request came in on.
//!
//! An admitted request holds one of its client's in-flight slots (counted by the socket task, per routing
//! id): its reply carries the slot back, so the count drops exactly when the reply goes out; a request that
//! is never answered (oneway, or whose answer was suppressed) gives the slot back when it is dropped.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::error::ThingError;
use crate::protocol::{
    ContentType, ErrorPayload, HandshakeInfo, MessageType, NULL_PAYLOAD, ResponseHeader, TimeoutKind,
};
use crate::thing::Output;

/// What a socket task is handed: frames to send (none when only a slot comes back), and the routing id of
/// the client whose in-flight slot is released with them.
pub(crate) struct Outgoing {
    pub(crate) frames: Vec<zmq::Message>,
    pub(crate) release: Option<zmq::Message>,
}

/// Where and how to answer one request.
pub(crate) struct ReplyTo {
    pub(crate) tx: mpsc::UnboundedSender<Outgoing>,
    pub(crate) server_id: Arc<str>,
    /// The `receiverID` of the reply, and where it is routed unless `route` is set.
    pub(crate) receiver: String,
    /// The raw routing id to send to, when it is not `receiver` (a peer whose id is not UTF-8).
    pub(crate) route: Option<Vec<u8>>,
    pub(crate) message_id: String,
    pub(crate) oneway: bool,
    /// The routing id whose in-flight slot this request holds; given back with the first reply or on drop.
    slot: Mutex<Option<zmq::Message>>,
}

/// A copy answers the same request but holds no slot (the invocation-timeout timer's copy).
impl Clone for ReplyTo {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            server_id: Arc::clone(&self.server_id),
            receiver: self.receiver.clone(),
            route: self.route.clone(),
            message_id: self.message_id.clone(),
            oneway: self.oneway,
            slot: Mutex::new(None),
        }
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(client) = slot {
            let _ = self.tx.send(Outgoing { frames: Vec::new(), release: Some(client) });
        }
    }
}

impl ReplyTo {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Outgoing>,
        server_id: Arc<str>,
        receiver: String,
        message_id: String,
        oneway: bool,
    ) -> Self {
        Self { tx, server_id, receiver, route: None, message_id, oneway, slot: Mutex::new(None) }
    }

    /// Makes this request hold an in-flight slot of the client with routing id `client`.
    pub(crate) fn hold_slot(&mut self, client: zmq::Message) {
        *self.slot.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(client);
    }

    fn send(&self, kind: MessageType, content_type: &str, payload: Vec<u8>, preserialized: Vec<u8>) {
        let preencoded = if preserialized.is_empty() { "text/plain" } else { "application/octet-stream" };
        self.send_with(kind, content_type, payload, preserialized, preencoded);
    }

    fn send_with(
        &self,
        kind: MessageType,
        content_type: &str,
        payload: Vec<u8>,
        preserialized: Vec<u8>,
        preencoded_content_type: &str,
    ) {
        let header = ResponseHeader {
            message_type: kind.as_str().into(),
            message_id: self.message_id.as_str().into(),
            receiver_id: self.receiver.as_str().into(),
            sender_id: (*self.server_id).into(),
            payload_content_type: content_type.into(),
            preencoded_payload_content_type: preencoded_content_type.into(),
        };
        let mut header_bytes = Vec::with_capacity(200 + self.message_id.len() + self.receiver.len());
        header.encode_into(&mut header_bytes);
        let route = self.route.as_deref().unwrap_or(self.receiver.as_bytes());
        let frames = vec![
            zmq::Message::from(route),
            zmq::Message::new(),
            zmq::Message::from(&header_bytes[..]),
            message_from(payload),
            message_from(preserialized),
        ];
        let release = self.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if self.tx.send(Outgoing { frames, release }).is_err() {
            tracing::debug!(message_id = %self.message_id, "reply dropped: the transport is closed");
        }
    }

    /// `HANDSHAKE` reply: `null`, and in frame 4 what this server is ([`HandshakeInfo`], JSON), which
    /// hololinked's client does not read.
    pub(crate) fn handshake(&self) {
        let info = HandshakeInfo::this_server().encode();
        self.send_with(MessageType::Handshake, "application/json", NULL_PAYLOAD.to_vec(), info, "application/json");
    }

    /// `REPLY` with an encoded result (suppressed for oneway requests).
    pub(crate) fn output(&self, content_type: &ContentType, output: Output) {
        if self.oneway {
            return;
        }
        let ct = content_type.for_reply();
        self.send(MessageType::Reply, ct.as_str(), output.payload, output.preserialized);
    }

    /// `REPLY` whose payload is `{"return_value": …, "execution_logs": […]}`.
    pub(crate) fn output_with_logs(&self, content_type: &ContentType, output: Output, logs: &[String]) {
        let ct = content_type.for_reply();
        let payload = wrap_with_logs("return_value", &output.payload, logs, &ct);
        self.output(&ct, Output { payload, preserialized: output.preserialized });
    }

    /// `EXCEPTION` (suppressed for oneway requests) or `INVALID_MESSAGE` (always sent).
    pub(crate) fn error(&self, kind: MessageType, error: &ThingError, origin: &str, logs: Option<&[String]>) {
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
        self.send(kind, "application/json", payload, Vec::new());
    }

    /// `TIMEOUT` (sent even for oneway requests, as hololinked does).
    pub(crate) fn timeout(&self, kind: TimeoutKind) {
        self.send(MessageType::Timeout, "application/json", kind.payload().to_vec(), Vec::new());
    }
}

/// Small frames are copied into libzmq's inline storage; large ones are handed over without a copy.
fn message_from(bytes: Vec<u8>) -> zmq::Message {
    if bytes.len() <= 64 { zmq::Message::from(&bytes[..]) } else { zmq::Message::from(bytes) }
}

/// `{"<key>": <payload>, "execution_logs": [...]}` built around an already-encoded payload, in JSON or
/// msgpack.
pub(crate) fn wrap_with_logs(key: &str, payload: &[u8], logs: &[String], ct: &ContentType) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 64 + logs.iter().map(|l| l.len() + 4).sum::<usize>());
    match ct {
        ct if ct.is_msgpack() => {
            out.push(0x82);
            let _ = rmp::encode::write_str(&mut out, key);
            out.extend_from_slice(payload);
            let _ = rmp::encode::write_str(&mut out, "execution_logs");
            let _ = rmp_serde::encode::write(&mut out, logs);
        }
        _ => {
            out.push(b'{');
            let _ = serde_json::to_writer(&mut out, key);
            out.push(b':');
            out.extend_from_slice(payload);
            out.extend_from_slice(b",\"execution_logs\":");
            let _ = serde_json::to_writer(&mut out, logs);
            out.push(b'}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_wrap_in_both_encodings() {
        let logs = vec!["a".to_owned()];
        let json = wrap_with_logs("return_value", b"1.5", &logs, &ContentType::Json);
        let v: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v, serde_json::json!({"return_value": 1.5, "execution_logs": ["a"]}));
        let inner = rmp_serde::to_vec(&1.5f64).expect("mp");
        let mp = wrap_with_logs("return_value", &inner, &logs, &ContentType::Msgpack);
        let v: serde_json::Value = rmp_serde::from_slice(&mp).expect("msgpack");
        assert_eq!(v, serde_json::json!({"return_value": 1.5, "execution_logs": ["a"]}));
    }
}
