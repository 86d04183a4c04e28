//! Events on the ZeroMQ wire: the PUB sockets of one server (one per transport), as the publisher's
//! [`EventSink`].
//!
//! An event of Thing `t` goes out with the topic `t/<event>` (an observable property's change as
//! `t/<property>_change_event`), and again under each alias of the Thing (its TD id, which hololinked's
//! client subscribes by). The message id is `<publisher>-<running number>`, from which a subscriber counts the
//! events it missed (see [`Subscription::missed`](crate::Subscription::missed)).

use std::sync::{Arc, Mutex};

use crate::event::{EventError, EventKind, EventRoute, EventSink, EventSource};
use crate::protocol::names::{change_event, event_topic};
use crate::protocol::{EventHeader, MessageType};

/// The PUB sockets, shared by every route.
pub(crate) struct PubSockets {
    sender_id: String,
    id_prefix: String,
    sockets: Mutex<Option<Vec<zmq::Socket>>>,
}

impl PubSockets {
    pub(crate) fn new(server_id: &str, sockets: Vec<zmq::Socket>) -> Arc<Self> {
        Arc::new(Self {
            sender_id: format!("{server_id}/event-publisher"),
            id_prefix: crate::util::random_hex(8),
            sockets: Mutex::new(Some(sockets)),
        })
    }

    /// Sends one event under `topic` on every socket.
    fn send(&self, topic: &str, sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        let message_id = format!("{}-{sequence:x}", self.id_prefix);
        let mut header = Vec::with_capacity(160 + message_id.len() + self.sender_id.len() + topic.len());
        EventHeader {
            message_type: MessageType::Event.as_str().into(),
            message_id: message_id.as_str().into(),
            sender_id: self.sender_id.as_str().into(),
            event_id: topic.into(),
            payload_content_type: "application/json".into(),
            preencoded_payload_content_type: if preserialized.is_empty() {
                "text/plain".into()
            } else {
                "application/octet-stream".into()
            },
        }
        .encode_into(&mut header);
        let guard = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sockets) = guard.as_ref() else {
            return Err(EventError::Closed(topic.to_owned()));
        };
        for socket in sockets {
            let frames: [&[u8]; 5] = [topic.as_bytes(), b"", &header, payload, preserialized];
            socket
                .send_multipart(frames, zmq::DONTWAIT)
                .map_err(|e| EventError::Zmq { topic: topic.to_owned(), reason: e.to_string() })?;
        }
        Ok(())
    }
}

/// The publisher's way to the PUB sockets.
pub(crate) struct PubSink(pub(crate) Arc<PubSockets>);

impl EventSink for PubSink {
    fn route(&self, source: &EventSource<'_>) -> Box<dyn EventRoute> {
        let name = match source.kind {
            EventKind::Event => source.name.to_owned(),
            EventKind::PropertyChange => change_event(source.name),
        };
        let topics = std::iter::once(source.thing_id)
            .chain(source.aliases.iter().map(String::as_str))
            .map(|thing| event_topic(thing, &name))
            .collect();
        Box::new(PubRoute { sockets: Arc::clone(&self.0), topics })
    }

    fn close(&self) {
        let taken = self.0.sockets.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
    }
}

/// The topics of one event source.
struct PubRoute {
    sockets: Arc<PubSockets>,
    /// `<thing_id>/<event>` first, then the same under each alias.
    topics: Vec<String>,
}

impl EventRoute for PubRoute {
    fn send(&self, sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        self.topics.iter().try_for_each(|topic| self.sockets.send(topic, sequence, payload, preserialized))
    }
}
