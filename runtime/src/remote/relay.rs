//! The events of a backend's Things, re-published through the gateway: one SUB socket per backend,
//! subscribed to each of its Things' topics, whose events go out on every binding of the gateway (its
//! ZeroMQ PUB sockets, Server-Sent Events, MQTT) as the gateway's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::auth::Credentials;
use crate::event::Routes;
use crate::protocol::{ContentType, EventHeader, names};
use crate::transport::{Protocol, SocketFd};

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

    fn send(&self, topic: &[u8], payload: &[u8], preserialized: &[u8]) {
        let Ok(topic) = std::str::from_utf8(topic) else { return };
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
) -> Result<(), String> {
    let socket = crate::transport::context().socket(zmq::SUB).map_err(|e| e.to_string())?;
    socket.set_linger(0).map_err(|e| e.to_string())?;
    socket.set_rcvhwm(crate::Subscription::<()>::HIGH_WATER_MARK).map_err(|e| e.to_string())?;
    if Protocol::of_address(address) == Some(Protocol::Tcp) {
        credentials.apply(&socket)?;
    }
    socket.connect(address).map_err(|e| format!("connecting to {address}: {e}"))?;
    for thing in things {
        socket.set_subscribe(names::event_topic(thing, "").as_bytes()).map_err(|e| e.to_string())?;
    }
    // Sound (see `SocketFd::register`): the descriptor is dropped before the socket, at the end of the task.
    let fd = SocketFd::register(&socket).map_err(|e| e.to_string())?;
    let address = address.to_owned();
    tokio::spawn(async move {
        let mut frames: Vec<zmq::Message> = Vec::with_capacity(5);
        loop {
            match crate::client::recv_whole(&socket, &mut frames, 6) {
                Ok(true) => {
                    if frames.len() == 5 {
                        relay(&topics, &frames);
                    }
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%address, error = %e, "reading a backend's events failed; no more are relayed");
                    break;
                }
            }
            tokio::select! {
                ready = fd.readable() => match ready {
                    Ok(mut guard) => guard.clear_ready(),
                    Err(_) => break,
                },
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
        drop(fd);
        drop(socket);
    });
    Ok(())
}

/// Re-publishes one event: JSON as it came; msgpack (which the gateway's bindings do not carry) as JSON.
fn relay(topics: &Topics, frames: &[zmq::Message]) {
    let Ok(header) = EventHeader::decode(&frames[2]) else { return };
    let content_type = ContentType::parse(&header.payload_content_type);
    if content_type.is_msgpack() {
        let Ok(value) = crate::protocol::decode::<serde_json::Value>(&frames[3], &content_type) else { return };
        let Ok(json) = serde_json::to_vec(&value) else { return };
        topics.send(&frames[0], &json, &frames[4]);
    } else {
        topics.send(&frames[0], &frames[3], &frames[4]);
    }
}
