//! The events of a backend's Things, re-published through the gateway: one SUB socket per backend,
//! subscribed to each of its Things' topics, whose events go out on every binding of the gateway (its
//! ZeroMQ PUB sockets, Server-Sent Events, MQTT) as the gateway's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::auth::Credentials;
use crate::client::{RawEvent, RawEvents};
use crate::error::ClientError;
use crate::event::Routes;
use crate::protocol::names;

/// One topic's way out through the gateway, with its running number.
struct Topic {
    routes: Routes,
    sequence: u64,
}

/// The topics of one backend, filled in as its Things are started on the gateway.
#[derive(Default)]
pub(crate) struct Topics {
    topics: Mutex<HashMap<String, Topic>>,
}

impl Topics {
    /// Sends events of `topic` (`<thing>/<event>` as the backend publishes it) out through `routes`.
    pub(crate) fn insert(&self, topic: String, routes: Routes) {
        self.topics.lock().unwrap_or_else(|p| p.into_inner()).insert(topic, Topic { routes, sequence: 0 });
    }

    fn send(&self, topic: &str, payload: &[u8], preserialized: &[u8]) {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        let Some(entry) = topics.get_mut(topic) else { return };
        let sequence = entry.sequence;
        entry.sequence += 1;
        if let Err(e) = entry.routes.send(sequence, payload, preserialized) {
            tracing::debug!(topic, error = %e, "a backend's event was not re-published");
        }
    }
}

/// Subscribes to the events of `things` at `address` (a backend's PUB socket) and re-publishes them through
/// `topics` until `stop` turns true. Reconnects by itself (ZeroMQ does) when the backend comes back.
pub(crate) fn start(
    address: &str,
    credentials: &Credentials,
    things: &[String],
    topics: Arc<Topics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ClientError> {
    let prefixes: Vec<String> = things.iter().map(|thing| names::event_topic(thing, "")).collect();
    let mut events = RawEvents::connect(address, credentials, &prefixes)?;
    let address = address.to_owned();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Ok(event) => relay(&topics, event),
                    Err(e) => {
                        tracing::warn!(%address, error = %e, "reading a backend's events failed; no more are relayed");
                        break;
                    }
                },
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    });
    Ok(())
}

/// Re-publishes one event: JSON as it came; msgpack (which the gateway's bindings do not carry) as JSON.
fn relay(topics: &Topics, event: RawEvent) {
    if event.content_type.is_msgpack() {
        let Ok(value) = crate::protocol::decode::<serde_json::Value>(&event.payload, &event.content_type) else {
            return;
        };
        let Ok(json) = serde_json::to_vec(&value) else { return };
        topics.send(&event.topic, &json, &event.preserialized);
    } else {
        topics.send(&event.topic, &event.payload, &event.preserialized);
    }
}
