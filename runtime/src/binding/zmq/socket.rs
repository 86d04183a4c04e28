//! The task that owns one transport's ROUTER socket: it reads hololinked messages, answers `HANDSHAKE` and
//! `EXIT` itself, refuses malformed messages with `INVALID_MESSAGE`, turns operations into core requests,
//! and sends the answers that come back through its channel, addressed to the request's `senderID`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::binding::zmq::reply::{Outgoing, ZmqSink};
use crate::core::{BindingContext, Body, Core, ExecutionContext, HashMap, RequestHead};
use crate::error::ThingError;
use crate::protocol::compact::{self, CompactRequest};
use crate::protocol::{self, MessageType, RequestHeader};
use crate::td::{SecurityScheme, ThingDescription};
use crate::transport::{BoundAddresses, Incoming, Protocol, ReadLimits, RouterSocket};

/// What every socket task of one server shares.
pub(crate) struct Shared {
    pub(crate) core: Arc<Core>,
    pub(crate) server_id: Arc<str>,
    pub(crate) addresses: Vec<BoundAddresses>,
    pub(crate) allow_remote_exit: bool,
    pub(crate) max_message_size: usize,
    pub(crate) max_frames: usize,
    pub(crate) max_in_flight: usize,
    /// Set to stop the server (a permitted remote `EXIT`).
    pub(crate) stop: watch::Sender<bool>,
    /// What the TCP transport requires, for TDs.
    pub(crate) security: Option<SecurityScheme>,
}

/// Frames 3 and 4 of a request, as the core's body: the frames are handed over as they were read, less the
/// header, whose place the last frame took: `[peer, delimiter, preserialized, payload]`.
struct Frames(Vec<zmq::Message>);

impl Body for Frames {
    fn payload(&self) -> &[u8] {
        &self.0[3]
    }

    fn preserialized(&self) -> &[u8] {
        &self.0[2]
    }
}

/// Resolves once the flag is `true` (or its sender is gone).
pub(crate) async fn wait_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.is_ok();
}

/// The task that owns one transport's ROUTER socket.
pub(crate) async fn socket_loop(
    mut router: RouterSocket,
    protocol: Protocol,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let mut in_flight = InFlight::new(shared.max_in_flight);
    let limits = ReadLimits { max_frames: shared.max_frames, max_bytes: shared.max_message_size };
    loop {
        tokio::select! {
            biased;
            Some(out) = rx.recv() => {
                deliver(&router, &mut in_flight, out);
                deliver_ready(&router, &mut in_flight, &mut rx);
            }
            incoming = router.recv(limits) => match incoming {
                Ok(incoming) => {
                    handle_message(incoming, protocol, &shared, &tx, &mut in_flight);
                    // A property operation ran inline and queued its reply: send it now, not after another
                    // round of the select.
                    deliver_ready(&router, &mut in_flight, &mut rx);
                }
                Err(zmq::Error::ETERM) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving on the request socket failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = wait_true(&mut shutdown) => break,
        }
    }
    // Stop reading; flush the replies of operations that finish within the grace period.
    drop(tx);
    let deadline = tokio::time::Instant::now() + grace;
    while let Ok(Some(out)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        deliver(&router, &mut in_flight, out);
    }
}

/// Sends the replies that are ready (at most 64, so that reading requests is never starved).
fn deliver_ready(router: &RouterSocket, in_flight: &mut InFlight, rx: &mut mpsc::UnboundedReceiver<Outgoing>) {
    for _ in 0..64 {
        match rx.try_recv() {
            Ok(out) => deliver(router, in_flight, out),
            Err(_) => break,
        }
    }
}

fn deliver(router: &RouterSocket, in_flight: &mut InFlight, out: Outgoing) {
    if let Some(client) = &out.release {
        in_flight.release(client);
    }
    if out.frames.is_empty() {
        return;
    }
    if let Err(e) = router.socket().send_multipart(out.frames, zmq::DONTWAIT) {
        // EHOSTUNREACH: the client is gone; EAGAIN: its queue is full. Either way the reply cannot go out.
        tracing::debug!(error = %e, "reply not delivered: the client is gone or not reading");
    }
}

/// Requests admitted and not yet answered, per client routing id, on one ROUTER socket (routing ids are
/// per socket, and only its task touches the counts: no lock). Entries go when they reach zero.
struct InFlight {
    limit: usize,
    counts: HashMap<ClientKey, usize>,
}

/// A routing id as a map key, in a `zmq::Message` (ids up to 33 bytes are stored inline, without a heap
/// allocation); looked up by its bytes.
struct ClientKey(zmq::Message);

impl PartialEq for ClientKey {
    fn eq(&self, other: &Self) -> bool {
        self.0[..] == other.0[..]
    }
}

impl Eq for ClientKey {}

impl std::hash::Hash for ClientKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0[..].hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for ClientKey {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl InFlight {
    fn new(limit: usize) -> Self {
        Self { limit, counts: HashMap::default() }
    }

    /// Takes a slot for `client`; `Err(count)` when it already has `limit` requests in flight.
    fn admit(&mut self, client: &[u8]) -> Result<(), usize> {
        match self.counts.get_mut(client) {
            Some(n) if *n >= self.limit => Err(*n),
            Some(n) => {
                *n += 1;
                Ok(())
            }
            None => {
                self.counts.insert(ClientKey(zmq::Message::from(client)), 1);
                Ok(())
            }
        }
    }

    fn release(&mut self, client: &[u8]) {
        if let Some(n) = self.counts.get_mut(client) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(client);
            }
        }
    }
}

/// What the ZeroMQ binding adds to one request's handling in the core: the forms of its transports, and the
/// per-client limit of requests in flight.
struct Via<'a> {
    shared: &'a Shared,
    protocol: Protocol,
    in_flight: &'a mut InFlight,
    /// The routing id of the socket that sent the request.
    peer: zmq::Message,
}

impl BindingContext<ZmqSink> for Via<'_> {
    fn name(&self) -> &'static str {
        super::NAME
    }

    fn describe<'t>(
        &'t self,
        td: ThingDescription<'t>,
        protocol: Option<&str>,
    ) -> Result<ThingDescription<'t>, ThingError> {
        let wanted = match protocol {
            Some(p) => Protocol::parse(p).ok_or_else(|| {
                ThingError::value_error(format!("unknown protocol `{p}`; expected TCP, IPC or INPROC"))
            })?,
            None => self.protocol,
        };
        let addresses = self.shared.addresses.iter().find(|a| a.protocol == wanted).ok_or_else(|| {
            let served: Vec<&str> = self.shared.addresses.iter().map(|a| a.protocol.as_str()).collect();
            ThingError::value_error(format!(
                "server `{}` does not serve {}; it serves {}",
                self.shared.server_id,
                wanted.as_str(),
                served.join(", ")
            ))
        })?;
        let td = td.served_on(addresses);
        Ok(match &self.shared.security {
            Some(scheme) => td.secured_by(scheme),
            None => td,
        })
    }

    fn admit(&mut self, sink: &mut ZmqSink) -> Result<(), ThingError> {
        if let Err(n) = self.in_flight.admit(&self.peer) {
            return Err(ThingError::runtime(format!(
                "client `{}` has {n} requests in flight (limit {}): wait for their replies before sending more",
                String::from_utf8_lossy(&self.peer),
                self.in_flight.limit
            )));
        }
        // The routing id moves into the slot; nothing reads it after this.
        sink.hold_slot(std::mem::replace(&mut self.peer, zmq::Message::new()));
        Ok(())
    }
}

/// The frames of a request with a compact header, as the core's body: `[peer, header, payload?,
/// preserialized?]`, the payload at `payload.1` in frame `payload.0` (the rest of the header's frame, or a
/// frame of its own).
struct CompactFrames {
    frames: Vec<zmq::Message>,
    payload: (usize, usize),
    preserialized: Option<usize>,
}

impl Body for CompactFrames {
    fn payload(&self) -> &[u8] {
        &self.frames[self.payload.0][self.payload.1..]
    }

    fn preserialized(&self) -> &[u8] {
        self.preserialized.map_or(&[][..], |i| &self.frames[i][..])
    }
}

fn count_message(n: usize) -> String {
    format!("message length 5 does not match the number of message parts {n}")
}

/// A message refused before its header is trusted is answered, in JSON, to the routing id of the socket
/// that sent it, byte for byte: the peer cannot forge it, and it need not be UTF-8.
fn invalid_to(peer: &[u8], tx: &mpsc::UnboundedSender<Outgoing>, shared: &Shared, message_id: String, message: String) {
    let receiver = String::from_utf8_lossy(peer).into_owned();
    ZmqSink::new(tx.clone(), Arc::clone(&shared.server_id), receiver, message_id, false)
        .routed_to(peer)
        .invalid(message);
}

fn handle_message(
    incoming: Incoming,
    protocol: Protocol,
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Outgoing>,
    in_flight: &mut InFlight,
) {
    let Incoming { mut frames, count, bytes } = incoming;
    let invalid_to_peer = |frames: &[zmq::Message], message_id: String, message: String| {
        invalid_to(frames.first().map_or(&[][..], |f| &f[..]), tx, shared, message_id, message)
    };
    let salvaged_id =
        |frames: &[zmq::Message]| frames.get(2).and_then(|h| protocol::salvage_ids(h).0).unwrap_or_default();
    if count > shared.max_frames {
        let message = format!(
            "the message has {count} frames, over this server's limit of {} (a hololinked message has {})",
            shared.max_frames,
            protocol::FRAME_COUNT
        );
        return invalid_to_peer(&frames, salvaged_id(&frames), message);
    }
    if bytes > shared.max_message_size {
        let message =
            format!("the message is {bytes} bytes, over this server's limit of {} bytes", shared.max_message_size);
        return invalid_to_peer(&frames, salvaged_id(&frames), message);
    }
    if frames.get(1).is_some_and(|f| compact::is_compact(f)) {
        return handle_compact(frames, protocol, shared, tx, in_flight);
    }
    if count < 3 {
        return invalid_to_peer(&frames, String::new(), count_message(count));
    }
    // The header frame leaves the message, so that the header can borrow from it while the rest of the
    // frames become the request's body: `[peer, delimiter, preserialized, payload]` once the last frame has
    // taken its place (when there are five; the count is checked below, before the frames are used).
    let header_frame = frames.swap_remove(2);
    let header = match RequestHeader::decode(&header_frame) {
        Ok(h) => h,
        // The identity frame is the real peer; a salvaged senderID may be anything.
        Err(e) => {
            let salvaged = protocol::salvage_ids(&header_frame).0.unwrap_or_default();
            return invalid_to_peer(&frames, salvaged, format!("{e}"));
        }
    };
    let sink = ZmqSink::new(
        tx.clone(),
        Arc::clone(&shared.server_id),
        header.sender_id.clone().into_owned(),
        header.message_id.clone().into_owned(),
        header.server_execution_context.oneway,
    );
    if answered_by_the_binding(header.kind(), &sink, shared, &header.sender_id) {
        return;
    }
    if count != protocol::FRAME_COUNT {
        return sink.invalid(count_message(count));
    }
    let ctx = header.server_execution_context;
    let head = RequestHead {
        id: &header.message_id,
        thing_id: &header.thing_id,
        name: header.objekt.as_deref().unwrap_or(""),
        operation: &header.operation,
        content_type: header.content_type(),
        context: ExecutionContext {
            invocation_timeout: ctx.invocation_timeout,
            execution_timeout: ctx.execution_timeout,
            oneway: ctx.oneway,
            fetch_logs: header.thing_execution_context.fetch_execution_logs,
        },
    };
    let peer = std::mem::replace(&mut frames[0], zmq::Message::new());
    let mut via = Via { shared, protocol, in_flight, peer };
    shared.core.submit(&head, Frames(frames), sink, &mut via);
}

/// Answers `HANDSHAKE` and `EXIT` itself; `false` for an operation, which goes to the core.
fn answered_by_the_binding(kind: MessageType, sink: &ZmqSink, shared: &Shared, client: &str) -> bool {
    match kind {
        MessageType::Handshake => sink.handshake(),
        MessageType::Exit if shared.allow_remote_exit => {
            tracing::info!(client, "remote EXIT accepted");
            let _ = shared.stop.send(true);
        }
        MessageType::Exit => {
            let e = ThingError::new(
                "PermissionError",
                "remote EXIT is disabled on this server; stop it locally, or enable it with ServerBuilder::allow_remote_exit(true)",
            );
            sink.exception(&e, "message border");
        }
        _ => return false,
    }
    true
}

/// A message whose header is compact (`[peer, header + payload, …]`, see [`compact`]): answered with
/// compact headers, addressed to the routing id (a thingwire client's id is its routing id; a compact
/// header carries no `senderID`).
fn handle_compact(
    mut frames: Vec<zmq::Message>,
    protocol: Protocol,
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Outgoing>,
    in_flight: &mut InFlight,
) {
    let peer = std::mem::replace(&mut frames[0], zmq::Message::new());
    // No `receiverID` (a compact reply has none): the reply goes to the routing id, and a failure is logged
    // with it.
    let sink = |oneway: bool| {
        ZmqSink::new(tx.clone(), Arc::clone(&shared.server_id), String::new(), String::new(), oneway).routed_to(&peer)
    };
    let header = match CompactRequest::decode(&frames[1]) {
        Ok(h) => h,
        Err(e) => {
            // Answered in the compact form when the id can be read and the version is ours, so that the
            // client can match the refusal to its call; in JSON otherwise.
            return match frames[1].get(..14) {
                Some([compact::MAGIC, compact::VERSION, _, _, _, _, id @ ..]) => {
                    sink(false).compact(u64::from_le_bytes(id.try_into().unwrap_or([0; 8]))).invalid(e.to_string())
                }
                _ => invalid_to(&peer, tx, shared, String::new(), e.to_string()),
            };
        }
    };
    let sink = sink(header.oneway).compact(header.message_id);
    let mut id_buffer = [0u8; 16];
    let id = crate::util::hex_id(header.message_id, &mut id_buffer);
    if answered_by_the_binding(header.kind, &sink, shared, id) {
        return;
    }
    if frames.len() != 1 + header.frames() {
        return sink.invalid(format!(
            "the compact header announces {} frames after the routing id, but the message has {}",
            header.frames(),
            frames.len() - 1
        ));
    }
    // The body keeps the header's frame (the payload may be in it), so the names the core reads are copied
    // out first: onto the stack when they are short, as they are. The decoder checked that they are UTF-8;
    // they are checked once more as copied (no `unsafe`), and a numbered operation is not copied at all.
    let frame: &[u8] = &frames[1];
    let bytes = |range: &std::ops::Range<usize>| frame.get(range.clone()).unwrap_or_default();
    let spelled_operation = match &header.operation {
        compact::Text::Known(_) => &[][..],
        compact::Text::In(range) => bytes(range),
    };
    let parts = [bytes(&header.thing_id), header.name.as_ref().map_or(&[][..], bytes), spelled_operation];
    let mut stack = [0u8; 192];
    let mut heap = Vec::new();
    let needed: usize = parts.iter().map(|p| p.len()).sum();
    let mut text: &mut [u8] = if needed <= stack.len() {
        &mut stack[..needed]
    } else {
        heap.resize(needed, 0);
        &mut heap
    };
    let mut copied = [""; 3];
    for (part, out) in parts.iter().zip(&mut copied) {
        let (into, rest) = std::mem::take(&mut text).split_at_mut(part.len());
        into.copy_from_slice(part);
        *out = std::str::from_utf8(into).unwrap_or("");
        text = rest;
    }
    let [thing, name, spelled] = copied;
    let operation = match &header.operation {
        compact::Text::Known(name) => name,
        compact::Text::In(_) => spelled,
    };
    let head = RequestHead {
        id,
        thing_id: thing,
        name,
        operation,
        content_type: header.content_type.clone(),
        context: ExecutionContext {
            invocation_timeout: header.invocation_timeout,
            execution_timeout: header.execution_timeout,
            oneway: header.oneway,
            fetch_logs: header.fetch_logs,
        },
    };
    let payload = match &header.inline_payload {
        Some(range) => (1, range.start),
        None => (2, 0),
    };
    let preserialized = header.preserialized.then_some(frames.len() - 1);
    let mut via = Via { shared, protocol, in_flight, peer };
    shared.core.submit(&head, CompactFrames { frames, payload, preserialized }, sink, &mut via);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_per_client_and_forgets_clients_at_zero() {
        let mut in_flight = InFlight::new(2);
        assert_eq!(in_flight.admit(b"a"), Ok(()));
        assert_eq!(in_flight.admit(b"a"), Ok(()));
        assert_eq!(in_flight.admit(b"a"), Err(2), "the third is over the limit");
        assert_eq!(in_flight.admit(b"\xff"), Ok(()), "counted per client, ids need not be UTF-8");
        in_flight.release(b"a");
        assert_eq!(in_flight.admit(b"a"), Ok(()), "a released slot is free again");
        in_flight.release(b"a");
        in_flight.release(b"a");
        in_flight.release(b"\xff");
        assert!(in_flight.counts.is_empty(), "no entry is kept for a client with nothing in flight");
        in_flight.release(b"unknown");
        assert!(in_flight.counts.is_empty());
    }
}
