//! What waits to be published: a bounded queue of events that never blocks the Thing, the binding's own
//! messages beside it, and the counters that say where every event went.
//!
//! Emitting an event (or a property change) puts it at the back of the event queue and returns at once. When
//! the queue holds [`MqttOptions::queue`](super::MqttOptions::queue) events — the broker is away, or slower
//! than the Thing — the **oldest** event is dropped to make room: after an outage subscribers get the most
//! recent events, and retained property values stay current. Each drop is counted
//! ([`MqttStats::dropped`](super::MqttStats::dropped)) and logged (a warning when dropping starts, a summary when
//! the queue has room again). The binding's own messages (the TD, the status, property values at connection,
//! replies to requests) wait in a queue of their own, sent first.
//!
//! One task takes the messages off the queues while the broker is connected and hands them to the MQTT
//! connection; the connection's task reports each publish it writes. A message handed over whose connection
//! breaks before it is written is counted as lost ([`MqttStats::lost`](super::MqttStats::lost)) — with a clean
//! session, the broker would not resume it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::builder::{MqttQos, MqttStats};
use super::client::Outbound;
use crate::event::{EventError, EventKind, EventRoute, EventSink, EventSource};

/// Where every event went, and the connection's state.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) emitted: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) refused_requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) connected: AtomicBool,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> MqttStats {
        let emitted = self.emitted.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let published = self.published.load(Ordering::Acquire);
        let lost = self.lost.load(Ordering::Acquire);
        MqttStats {
            queued: emitted,
            dropped,
            published,
            lost,
            pending: emitted.saturating_sub(dropped + published + lost),
            requests: self.requests.load(Ordering::Relaxed),
            refused_requests: self.refused_requests.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Acquire),
        }
    }
}

/// Whether a message handed to the connection is an event (counted) or one of the binding's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Event,
    Own,
}

/// Most of the binding's own messages waiting (replies when the broker is away, say); beyond, the oldest go.
const OWN_CAPACITY: usize = 4096;

#[derive(Default)]
struct Queues {
    events: VecDeque<Outbound>,
    own: VecDeque<Outbound>,
    /// Drops since the last summary.
    dropping: u64,
}

/// The queues, the handed-over messages not yet written, and the counters.
pub(crate) struct Outbox {
    queues: Mutex<Queues>,
    /// The kinds of the messages handed to the connection, in order, until it writes them.
    handed: Mutex<VecDeque<Kind>>,
    capacity: usize,
    ready: Notify,
    pub(crate) counters: Arc<Counters>,
    closed: AtomicBool,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queues: Mutex::default(),
            handed: Mutex::default(),
            capacity: capacity.max(1),
            ready: Notify::new(),
            counters: Arc::default(),
            closed: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event; never waits.
    pub(crate) fn push_event(&self, message: Outbound) {
        self.counters.emitted.fetch_add(1, Ordering::AcqRel);
        let mut q = self.lock();
        if q.events.len() >= self.capacity {
            q.events.pop_front();
            self.counters.dropped.fetch_add(1, Ordering::AcqRel);
            if q.dropping == 0 {
                tracing::warn!(
                    queue = self.capacity,
                    topic = %message.topic,
                    "MQTT event queue full (the broker is away or slower than the Thing): dropping the oldest events"
                );
            }
            q.dropping += 1;
        }
        q.events.push_back(message);
        drop(q);
        self.ready.notify_one();
    }

    /// Queues one of the binding's own messages (sent before events).
    pub(crate) fn push_own(&self, message: Outbound) {
        let mut q = self.lock();
        if q.own.len() >= OWN_CAPACITY
            && let Some(old) = q.own.pop_front()
        {
            tracing::warn!(topic = %old.topic, "MQTT: too many of the binding's own messages wait; dropped the oldest");
        }
        q.own.push_back(message);
        drop(q);
        self.ready.notify_one();
    }

    /// The next message to hand over, the binding's own first; `None` once closed and empty.
    pub(crate) async fn next(&self) -> Option<(Outbound, Kind)> {
        loop {
            let notified = self.ready.notified();
            {
                let mut q = self.lock();
                if let Some(m) = q.own.pop_front() {
                    return Some((m, Kind::Own));
                }
                if let Some(m) = q.events.pop_front() {
                    if q.events.is_empty() && q.dropping > 0 {
                        tracing::warn!(dropped = q.dropping, "MQTT event queue has room again");
                        q.dropping = 0;
                    }
                    return Some((m, Kind::Event));
                }
                if self.closed.load(Ordering::Acquire) {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Notes that a message of `kind` is being handed to the connection.
    pub(crate) fn handing(&self, kind: Kind) {
        self.handed.lock().unwrap_or_else(|p| p.into_inner()).push_back(kind);
    }

    /// The connection wrote a publish.
    pub(crate) fn written(&self) {
        let kind = self.handed.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        if kind == Some(Kind::Event) {
            self.counters.published.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The connection broke: what was handed to it and not written is lost. Returns the events lost.
    pub(crate) fn broke(&self) -> u64 {
        let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
        let lost = handed.drain(..).filter(|k| *k == Kind::Event).count() as u64;
        self.counters.lost.fetch_add(lost, Ordering::AcqRel);
        lost
    }

    /// Nothing is queued or handed over.
    pub(crate) fn is_idle(&self) -> bool {
        let q = self.lock();
        q.events.is_empty() && q.own.is_empty() && self.handed.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// No more messages: [`next`](Self::next) ends once the queues are empty.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_one();
    }
}

/// The publisher's way to the broker.
pub(crate) struct MqttSink {
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) qos: MqttQos,
    pub(crate) retain_properties: bool,
}

impl EventSink for MqttSink {
    fn route(&self, source: &EventSource<'_>) -> Box<dyn EventRoute> {
        // A change published as ZeroMQ names it (`<property>_change_event`, by an `EventBinder` of a background
        // task) goes where MQTT subscribers look for the property's changes: `<thing>/<property>`.
        let (name, change) = match (source.kind, source.name.strip_suffix("_change_event")) {
            (EventKind::PropertyChange, _) => (source.name, true),
            (EventKind::Event, Some(property)) if !property.is_empty() => (property, true),
            (EventKind::Event, _) => (source.name, false),
        };
        Box::new(Route {
            outbox: Arc::clone(&self.outbox),
            topic: Arc::from(super::forms::topic(source.thing_id, name)),
            qos: self.qos,
            retain: change && self.retain_properties,
        })
    }
}

struct Route {
    outbox: Arc<Outbox>,
    topic: Arc<str>,
    qos: MqttQos,
    retain: bool,
}

impl EventRoute for Route {
    fn send(&self, _sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        // Raw bytes go as they are, labelled; everything else is the event's JSON, as hololinked publishes it.
        let (payload, content_type) = if preserialized.is_empty() {
            (Bytes::copy_from_slice(payload), "application/json")
        } else {
            (Bytes::copy_from_slice(preserialized), "application/octet-stream")
        };
        self.outbox.push_event(Outbound {
            topic: Arc::clone(&self.topic),
            payload,
            qos: self.qos,
            retain: self.retain,
            content_type,
            correlation: None,
            user_properties: Vec::new(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Outbound {
        Outbound {
            topic: Arc::from("t/e"),
            payload: Bytes::from(n.to_string()),
            qos: MqttQos::AtLeastOnce,
            retain: false,
            content_type: "application/json",
            correlation: None,
            user_properties: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_every_event_is_accounted_for() {
        let outbox = Outbox::new(3);
        for n in 0..5 {
            outbox.push_event(event(n));
        }
        let s = outbox.counters.snapshot();
        assert_eq!((s.queued, s.dropped, s.pending), (5, 2, 3));
        let (first, kind) = outbox.next().await.expect("an event");
        assert_eq!((first.payload, kind), (Bytes::from("2"), Kind::Event), "the oldest were dropped");
        outbox.handing(Kind::Event);
        outbox.written();
        let (_, _) = outbox.next().await.expect("an event");
        outbox.handing(Kind::Event);
        assert_eq!(outbox.broke(), 1, "handed over, not written");
        let s = outbox.counters.snapshot();
        assert_eq!((s.published, s.lost, s.pending), (1, 1, 1));
        assert_eq!(s.queued, s.published + s.lost + s.dropped + s.pending);
    }

    #[tokio::test]
    async fn the_bindings_own_messages_go_first_and_close_ends_the_queue() {
        let outbox = Outbox::new(8);
        outbox.push_event(event(1));
        let mut own = event(2);
        own.topic = Arc::from("t/thing-description");
        outbox.push_own(own);
        assert_eq!(outbox.next().await.map(|(m, k)| (m.topic, k)), Some((Arc::from("t/thing-description"), Kind::Own)));
        outbox.close();
        assert!(outbox.next().await.is_some(), "what was queued still goes");
        assert!(outbox.next().await.is_none());
    }
}
