//! Events: the [`Event<T>`] handle a Thing emits through, and the per-server [`Publisher`] behind it.
//!
//! An event is encoded once (JSON, as hololinked's clients expect) and handed to every binding that carries
//! events, through the [`EventSink`] each of them gives the publisher; a binding finds its way out for each
//! event source once, when the handle is bound ([`EventRoute`]), so emitting costs no lookup. Emitting never
//! blocks. On ZeroMQ, events go out on the PUB sockets with the topic `<thing_id>/<event_name>`: when a
//! subscriber's queue reaches the high-water mark (see
//! [`ServerBuilder::event_high_water_mark`](crate::ServerBuilder::event_high_water_mark)), libzmq drops
//! further events *for that subscriber* until it catches up — the usual PUB/SUB trade-off that keeps a slow
//! subscriber from stalling the Thing — and events emitted before a subscription has reached the server are
//! not delivered to it ("slow joiner").

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

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
    /// A topic that is not `<thing>/<event>`.
    #[error("`{0}` is not an event topic: expected `<thing>/<event>`")]
    Topic(String),
    /// The binding could not send it (libzmq refused the message).
    #[error("event `{topic}`: ZeroMQ error: {reason}")]
    Zmq {
        /// The topic.
        topic: String,
        /// libzmq's error.
        reason: String,
    },
}

/// What an event is: which Thing publishes it, under which other id it is known too (its TD id), its name,
/// and whether it is a declared event or an observable property's change.
#[derive(Debug, Clone, Copy)]
pub struct EventSource<'a> {
    /// The Thing's id.
    pub thing_id: &'a str,
    /// Other ids the Thing is addressed by (the TD id, which hololinked's client subscribes by).
    pub aliases: &'a [String],
    /// The event's name; for a property change, the property's name.
    pub name: &'a str,
    /// A declared event or a property change.
    pub kind: EventKind,
}

/// Whether an event is declared by the Thing or reports an observable property's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An `#[event]` of the Thing.
    Event,
    /// A change of an observable property (hololinked publishes it as `<property>_change_event`).
    PropertyChange,
}

/// Where a binding sends events: each binding that carries events (ZeroMQ PUB sockets, Server-Sent Events,
/// MQTT) gives the publisher one sink, and the publisher asks it once per event source for a route.
pub trait EventSink: Send + Sync + 'static {
    /// The route for events of `source`: whatever the binding needs to send them fast (its topics, encoded
    /// once).
    fn route(&self, source: &EventSource<'_>) -> Box<dyn EventRoute>;

    /// The server is shutting down: release the binding's event resources.
    fn close(&self) {}
}

/// One event source's way out through one binding.
pub trait EventRoute: Send + Sync + 'static {
    /// Sends one event: its running number for this source, its data as JSON, and raw bytes beside it.
    /// Never blocks.
    fn send(&self, sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError>;
}

/// The publisher of one server: the event sinks of its bindings, shared by every event handle of its Things.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<PublisherInner>,
}

struct PublisherInner {
    server_id: String,
    sinks: Vec<Arc<dyn EventSink>>,
    /// The running numbers of the topics published by [`Publisher::publish_encoded`], one per topic.
    counters: Mutex<HashMap<String, u64>>,
    published: AtomicU64,
    closed: AtomicBool,
}

impl fmt::Debug for Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("server_id", &self.inner.server_id)
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

/// Every route of one event source, one per binding.
pub(crate) struct Routes {
    publisher: Publisher,
    routes: Vec<Box<dyn EventRoute>>,
    /// The source, for errors: `<thing>/<name>`.
    label: String,
}

impl Routes {
    /// Sends an event on every route.
    pub(crate) fn send(&self, sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        if self.publisher.inner.closed.load(Ordering::Acquire) {
            return Err(EventError::Closed(self.label.clone()));
        }
        for route in &self.routes {
            route.send(sequence, payload, preserialized)?;
        }
        self.publisher.inner.published.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Publisher {
    /// A publisher sending through `sinks` (the server makes it from its bindings).
    pub fn new(server_id: &str, sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Self {
            inner: Arc::new(PublisherInner {
                server_id: server_id.to_owned(),
                sinks,
                counters: Mutex::new(HashMap::new()),
                published: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The id of the server publishing.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    /// How many events this publisher has sent (counting each event once, whatever the bindings).
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// The routes of `source` through every binding.
    pub(crate) fn routes(&self, source: &EventSource<'_>) -> Routes {
        let label = crate::protocol::names::event_topic(source.thing_id, source.name);
        Routes { publisher: self.clone(), routes: self.inner.sinks.iter().map(|s| s.route(source)).collect(), label }
    }

    /// Publishes already-encoded JSON (and raw bytes beside it) as event `<thing>/<event>` (`topic`), on
    /// every binding, numbered per topic (so a subscriber counts only its topic's missed events). Prefer an
    /// [`Event`] handle, which finds its routes once.
    pub fn publish_encoded(&self, topic: &str, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        let (thing_id, name) =
            crate::protocol::names::split_topic(topic).ok_or_else(|| EventError::Topic(topic.to_owned()))?;
        let routes = self.routes(&EventSource { thing_id, aliases: &[], name, kind: EventKind::Event });
        let sequence = {
            let mut counters = self.inner.counters.lock().unwrap_or_else(|p| p.into_inner());
            let counter = counters.entry(topic.to_owned()).or_insert(0);
            *counter += 1;
            *counter - 1
        };
        routes.send(sequence, payload, preserialized)
    }

    /// Encodes `value` as JSON and publishes it as event `<thing>/<event>` (`topic`).
    pub fn publish<T: Serialize + ?Sized>(&self, topic: &str, value: &T) -> Result<(), EventError> {
        let payload = serde_json::to_vec(value)
            .map_err(|e| EventError::Encode { topic: topic.to_owned(), reason: e.to_string() })?;
        self.publish_encoded(topic, &payload, b"")
    }

    /// Stops publishing; later events fail with [`EventError::Closed`]; the bindings release their sockets.
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        for sink in &self.inner.sinks {
            sink.close();
        }
    }
}

struct Binding {
    routes: Routes,
    /// The event's running number.
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
        self.slot.get().map(|b| b.routes.label.as_str())
    }

    fn label(&self) -> String {
        self.name.get().cloned().unwrap_or_else(|| "<unnamed>".to_owned())
    }
}

impl<T: Serialize> Event<T> {
    /// Publishes `value` to every subscriber on every transport. Never blocks.
    pub fn emit(&self, value: &T) -> Result<(), EventError> {
        let binding = self.slot.get().ok_or_else(|| EventError::NotServed(self.label()))?;
        let payload = serde_json::to_vec(value)
            .map_err(|e| EventError::Encode { topic: binding.routes.label.clone(), reason: e.to_string() })?;
        binding.routes.send(binding.sequence.fetch_add(1, Ordering::Relaxed), &payload, b"")
    }
}

impl Event<crate::Bytes> {
    /// Publishes raw bytes in frame 4 (payload `null`), as hololinked does for `bytes` event data.
    pub fn emit_bytes(&self, bytes: &[u8]) -> Result<(), EventError> {
        let binding = self.slot.get().ok_or_else(|| EventError::NotServed(self.label()))?;
        binding.routes.send(binding.sequence.fetch_add(1, Ordering::Relaxed), b"null", bytes)
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
        if event.slot.get().is_some() {
            return;
        }
        let routes = self.routes(name, EventKind::Event);
        let _ = event.slot.set(Binding { routes, sequence: AtomicU64::new(0) });
    }

    /// Connects `event` as the changes of the observable property `property`: what a background task (a
    /// motion, a control loop) emits through it reaches every binding as that property's changes — ZeroMQ's
    /// `<property>_change_event` topic, the HTTP binding's `/<thing>/<property>/change-event` stream —
    /// exactly as the changes the runtime publishes after a write.
    pub fn bind_property_change<T>(&self, event: &Event<T>, property: &str) {
        let _ = event.name.set(property.to_owned());
        if event.slot.get().is_some() {
            return;
        }
        let routes = self.routes(property, EventKind::PropertyChange);
        let _ = event.slot.set(Binding { routes, sequence: AtomicU64::new(0) });
    }

    /// The routes of this Thing's event or property change `name`.
    pub(crate) fn routes(&self, name: &str, kind: EventKind) -> Routes {
        let aliases = self.alias.as_slice();
        self.publisher.routes(&EventSource { thing_id: &self.thing_id, aliases, name, kind })
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
