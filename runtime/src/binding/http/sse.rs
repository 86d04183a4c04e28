//! Events over HTTP: Server-Sent Events (`text/event-stream`), one stream per subscriber.
//!
//! Each event source (a Thing's event, or an observable property's changes) has a broadcast channel; the
//! publisher's route for it formats the event once as `data: <json>\n\n` and hands it to the channel, and every
//! open stream of that source reads from it. Sending never waits for a subscriber: one that falls more than
//! [`CHANNEL`] events behind loses the oldest ones, and its stream says so in a comment line
//! (`: 12 events dropped: this client did not keep up`) — its connection stays open. Comments are single lines
//! with no blank line after them, so that no client mistakes one for an empty event (hololinked's logs a
//! warning for each). A comment every
//! [`KEEP_ALIVE`] keeps idle streams open through proxies and finds clients that went away; a stream's slot
//! (of [`HttpOptions::max_event_streams`](super::HttpOptions::max_event_streams)) is given back when its
//! client disconnects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, broadcast};

use crate::core::HashMap;
use crate::event::{EventError, EventKind, EventRoute, EventSink, EventSource};

/// Events buffered per source for slow subscribers.
pub(crate) const CHANNEL: usize = 4096;

/// How often an idle stream gets a comment line.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Most events written to a stream in one chunk.
const BATCH: usize = 256;

type Key = (String, String, EventKind);

/// The event channels of one server, by Thing, name and kind.
#[derive(Default)]
pub(crate) struct Hub {
    channels: Mutex<HashMap<Key, broadcast::Sender<Bytes>>>,
}

impl Hub {
    fn sender(&self, thing: &str, name: &str, kind: EventKind) -> broadcast::Sender<Bytes> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .entry((thing.to_owned(), name.to_owned(), kind))
            .or_insert_with(|| broadcast::channel(CHANNEL).0)
            .clone()
    }

    /// A new subscriber of `thing`'s event or property changes `name`.
    pub(crate) fn subscribe(&self, thing: &str, name: &str, kind: EventKind) -> broadcast::Receiver<Bytes> {
        self.sender(thing, name, kind).subscribe()
    }
}

/// The publisher's way to the hub.
pub(crate) struct HubSink(pub(crate) Arc<Hub>);

impl EventSink for HubSink {
    fn route(&self, source: &EventSource<'_>) -> Box<dyn EventRoute> {
        Box::new(HubRoute(self.0.sender(source.thing_id, source.name, source.kind)))
    }
}

struct HubRoute(broadcast::Sender<Bytes>);

impl EventRoute for HubRoute {
    fn send(&self, _sequence: u64, payload: &[u8], preserialized: &[u8]) -> Result<(), EventError> {
        if self.0.receiver_count() == 0 {
            return Ok(());
        }
        // Raw bytes travel base64-encoded, as hololinked's HTTP server writes image streams.
        let data: Vec<u8>;
        let data: &[u8] = if preserialized.is_empty() {
            payload
        } else {
            data = serde_json::to_vec(&base64_encode(preserialized)).unwrap_or_default();
            &data
        };
        let mut frame = BytesMut::with_capacity(data.len() + 8);
        frame.extend_from_slice(b"data: ");
        // A JSON value has no newline outside strings (serde_json escapes them), so one `data:` line holds it.
        frame.extend_from_slice(data);
        frame.extend_from_slice(b"\n\n");
        // No subscriber left since the check above: nothing to do.
        let _ = self.0.send(frame.freeze());
        Ok(())
    }
}

/// What one open stream holds: its channel, its slot, and whether it has written its first line.
struct Open {
    rx: broadcast::Receiver<Bytes>,
    _slot: OwnedSemaphorePermit,
    opened: bool,
}

fn dropped(n: u64) -> String {
    format!(": {n} events dropped: this client did not keep up\n")
}

/// The bytes of one stream: events as they come, batched, with comments for drops and keep-alives.
pub(crate) fn stream(
    rx: broadcast::Receiver<Bytes>,
    slot: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    futures::stream::unfold(Open { rx, _slot: slot, opened: false }, |mut open| async move {
        // The first chunk opens the stream at once (clients wait for the headers and a first byte).
        if !open.opened {
            open.opened = true;
            return Some((Ok(Bytes::from_static(b": stream open\n")), open));
        }
        let mut chunk = BytesMut::new();
        match tokio::time::timeout(KEEP_ALIVE, open.rx.recv()).await {
            Err(_) => chunk.extend_from_slice(b": keep-alive\n"),
            Ok(Ok(event)) => chunk.extend_from_slice(&event),
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => chunk.extend_from_slice(dropped(n).as_bytes()),
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
        }
        for _ in 0..BATCH {
            match open.rx.try_recv() {
                Ok(event) => chunk.extend_from_slice(&event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => chunk.extend_from_slice(dropped(n).as_bytes()),
                Err(_) => break,
            }
        }
        Some((Ok(chunk.freeze()), open))
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(&[0xff, 0xfe, 0xfd, 0x00]), "//79AA==");
    }
}
