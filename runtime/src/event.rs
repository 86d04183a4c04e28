//! Events: the [`Event<T>`] handle a Thing emits through, and the per-server publisher behind it.
//!
//! Every transport has its own PUB socket; an event is encoded once (JSON, as hololinked's clients expect)
//! and sent on each of them with the topic `<thing_id>/<event_name>`. Sending never blocks: when a
//! subscriber's queue reaches the PUB socket's high-water mark (see
//! [`ServerBuilder::event_high_water_mark`](crate::ServerBuilder::event_high_water_mark)), libzmq drops
//! further events *for that subscriber* until it catches up — the usual PUB/SUB trade-off that keeps a slow
//! subscriber from stalling the Thing. Events emitted before a subscriber's subscription has reached the
//! server are not delivered to it ("slow joiner").

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use crate::protocol::{EventHeader, MessageType};

/// Why an event was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The Thing is not served yet, so nobody could receive the event.
    #[error("event `{0}` is not connected to a server yet: serve the Thing before emitting")]
    NotServed(String),
    /// The server has shut down.
    #[error("event `{0}` was emitted after its server shut down")]
    Closed(String),
    /// The value could not be encoded as JSON.
    #[error("event `{topic}`: could not encode the data as JSON: {reason}")]
    Encode {
        /// The topic.
        topic: String,
        /// What the encoder said.
        reason: String,
    },
    /// libzmq refused the message.
    #[error("event `{topic}`: ZeroMQ error: {reason}")]
    Zmq {
        /// The topic.
        topic: String,
        /// libzmq's error.
        reason: String,
    },
}

/// The PUB sockets of one server (one per transport), shared by every event handle of its Things.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<PublisherInner>,
}

struct PublisherInner {
    sender_id: String,
    id_prefix: String,
    counter: AtomicU64,
    published: AtomicU64,
    sockets: Mutex<Option<Vec<zmq::Socket>>>,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("sender_id", &self.inner.sender_id)
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    pub(crate) fn new(server_id: &str, sockets: Vec<zmq::Socket>) -> Self {
        Self {
            inner: Arc::new(PublisherInner {
                sender_id: format!("{server_id}/event-publisher"),
                id_prefix: crate::util::random_hex(8),
                counter: AtomicU64::new(0),
                published: AtomicU64::new(0),
                sockets: Mutex::new(Some(sockets)),
            }),
        }
    }

    /// How many events this publisher has sent (counting each event once, whatever the transports).
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Sends an already-encoded JSON payload (and frame-4 bytes) on every PUB socket.
    pub fn publish_encoded(&self, topic: &str, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        self.publish_numbered(topic, n, payload, preserialized)
    }

    /// Publishes with `sequence` as the topic's running number: the message id is `<publisher>-<sequence>`,
    /// from which a subscriber counts the events it missed (see [`crate::Subscription::missed`]).
    pub fn publish_numbered(
        &self,
        topic: &str,
        sequence: u64,
        payload: &[u8],
        preserialized: &[u8],
    ) -> Result<(), EventError> {
        let message_id = format!("{}-{sequence:x}", self.inner.id_prefix);
        let mut header = Vec::with_capacity(160 + message_id.len() + self.inner.sender_id.len() + topic.len());
        EventHeader {
            message_type: MessageType::Event.as_str().into(),
            message_id: message_id.as_str().into(),
            sender_id: self.inner.sender_id.as_str().into(),
            event_id: topic.into(),
            payload_content_type: "application/json".into(),
            preencoded_payload_content_type: if preserialized.is_empty() {
                "text/plain".into()
            } else {
                "application/octet-stream".into()
            },
        }
        .encode_into(&mut header);
        let guard = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sockets) = guard.as_ref() else {
            return Err(EventError::Closed(topic.to_owned()));
        };
        for socket in sockets {
            let frames: [&[u8]; 5] = [topic.as_bytes(), b"", &header, payload, preserialized];
            socket
                .send_multipart(frames, zmq::DONTWAIT)
                .map_err(|e| EventError::Zmq { topic: topic.to_owned(), reason: e.to_string() })?;
        }
        self.inner.published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Encodes `value` as JSON and publishes it.
    pub fn publish<T: Serialize + ?Sized>(&self, topic: &str, value: &T) -> Result<(), EventError> {
        let payload = serde_json::to_vec(value)
            .map_err(|e| EventError::Encode { topic: topic.to_owned(), reason: e.to_string() })?;
        self.publish_encoded(topic, &payload, b"")
    }

    /// Closes the PUB sockets; later events fail with [`EventError::Closed`].
    pub(crate) fn close(&self) {
        let taken = self.inner.sockets.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
    }
}

struct Binding {
    /// `<thing_id>/<event>` first, then the same under the Thing's TD id.
    topics: Vec<String>,
    publisher: Publisher,
    /// The event's running number, shared by its topics.
    sequence: AtomicU64,
}

/// A typed event a Thing emits. Cheap to clone; `Send + Sync`; emit from any task or thread.
///
/// Create it unbound with [`Event::new`] in the Thing's constructor; the server connects it when it starts
/// serving the Thing. Clones made before that see the connection too.
pub struct Event<T> {
    slot: Arc<OnceLock<Binding>>,
    name: Arc<OnceLock<String>>,
    _data: PhantomData<fn(&T)>,
}

impl<T> Clone for Event<T> {
    fn clone(&self) -> Self {
        Self { slot: Arc::clone(&self.slot), name: Arc::clone(&self.name), _data: PhantomData }
    }
}

impl<T> Default for Event<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("topic", &self.topic()).finish()
    }
}

impl<T> Event<T> {
    /// An event handle not yet connected to a server.
    pub fn new() -> Self {
        Self { slot: Arc::new(OnceLock::new()), name: Arc::new(OnceLock::new()), _data: PhantomData }
    }

    /// Whether a server has connected this handle.
    pub fn is_served(&self) -> bool {
        self.slot.get().is_some()
    }

    /// The topic (`<thing_id>/<event_name>`) once served.
    pub fn topic(&self) -> Option<&str> {
        self.slot.get().and_then(|b| b.topics.first()).map(String::as_str)
    }

    fn label(&self) -> String {
        self.name.get().cloned().unwrap_or_else(|| "<unnamed>".to_owned())
    }
}

impl<T: Serialize> Event<T> {
    /// Publishes `value` to every subscriber on every transport. Never blocks.
    pub fn emit(&self, value: &T) -> Result<(), EventError> {
        let binding = self.slot.get().ok_or_else(|| EventError::NotServed(self.label()))?;
        let payload = serde_json::to_vec(value).map_err(|e| EventError::Encode {
            topic: binding.topics.first().cloned().unwrap_or_default(),
            reason: e.to_string(),
        })?;
        let n = binding.sequence.fetch_add(1, Ordering::Relaxed);
        binding.topics.iter().try_for_each(|topic| binding.publisher.publish_numbered(topic, n, &payload, b""))
    }
}

impl Event<crate::Bytes> {
    /// Publishes raw bytes in frame 4 (payload `null`), as hololinked does for `bytes` event data.
    pub fn emit_bytes(&self, bytes: &[u8]) -> Result<(), EventError> {
        let binding = self.slot.get().ok_or_else(|| EventError::NotServed(self.label()))?;
        let n = binding.sequence.fetch_add(1, Ordering::Relaxed);
        binding.topics.iter().try_for_each(|topic| binding.publisher.publish_numbered(topic, n, b"null", bytes))
    }
}

/// Handed to [`Thing::bind_events`](crate::Thing::bind_events): connects a Thing's event handles.
#[derive(Debug, Clone)]
pub struct EventBinder {
    thing_id: String,
    alias: Option<String>,
    publisher: Publisher,
}

impl EventBinder {
    /// A binder for the Thing `thing_id` on `publisher` (the server makes these; use one to connect extra
    /// handles yourself).
    pub fn new(thing_id: &str, publisher: Publisher) -> Self {
        Self { thing_id: thing_id.to_owned(), alias: None, publisher }
    }

    /// Also publishes every event under `alias/<event>` (the server passes the Thing's TD id, which
    /// hololinked's client subscribes by).
    pub fn with_alias(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_owned());
        self
    }

    /// Connects `event` under `name`. A handle that is already served (for example a Thing served twice)
    /// keeps its first connection.
    pub fn bind<T>(&self, event: &Event<T>, name: &str) {
        let _ = event.name.set(name.to_owned());
        let topics =
            std::iter::once(&self.thing_id).chain(&self.alias).map(|prefix| format!("{prefix}/{name}")).collect();
        let _ = event.slot.set(Binding { topics, publisher: self.publisher.clone(), sequence: AtomicU64::new(0) });
    }

    /// The publisher (for runtime-internal events such as property changes).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The id of the Thing being bound.
    pub fn thing_id(&self) -> &str {
        &self.thing_id
    }
}
