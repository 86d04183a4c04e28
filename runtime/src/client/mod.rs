//! A minimal async client: handshake, request/reply matched by `messageID`, typed helpers, and event
//! subscriptions. It drives thingwire servers and hololinked 0.4 servers alike.
//!
//! One [`Client`] owns one DEALER socket; clones share it, and any number of calls may be in flight at once
//! (replies are matched to callers by message id). The DEALER's routing id is the client id, which is also
//! the `senderID` of every request, so replies find their way back without the client knowing the server id
//! in advance.
//!
//! A call sends its request from the caller's own task, and the waiting calls read the socket themselves: one
//! of them at a time waits for it and hands every reply that arrives to its caller, so a lone call is woken
//! by the reactor directly, with no task hop in between (a hop costs a thread wake-up, most of a round trip
//! on a local transport). A background task follows the socket monitor (disconnections, reconnections,
//! refused handshakes). The socket sits behind a mutex held only for non-blocking libzmq calls: an exception
//! to "one socket, one task", for the latency above.
//!
//! ```no_run
//! # async fn demo() -> Result<(), thingwire::ClientError> {
//! use thingwire::Client;
//! let client = Client::connect("tcp://127.0.0.1:5555").await?;
//! let gain: f64 = client.read_property("scope", "gain").await?;
//! client.write_property("scope", "gain", &(gain * 2.0)).await?;
//! let sum: f64 = client.invoke("scope", "add", &serde_json::json!({"a": 1, "b": 2})).await?;
//! # let _ = sum; Ok(()) }
//! ```

pub mod dynamic;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::unix::AsyncFd;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::auth::Credentials;
use crate::error::{AuthRefusal, ClientError};
use crate::protocol::compact::{self, CompactReply, OutgoingCompactRequest};
use crate::protocol::names;
use crate::protocol::{
    self, ContentType, ErrorPayload, EventHeader, HandshakeInfo, MessageType, OutgoingRequestHeader,
    OutgoingServerContext, OutgoingThingContext, ResponseHeader, TimeoutKind, op,
};
use crate::transport::{self, Protocol, SocketFd};
use crate::util::hex_id;

/// Options for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOptions {
    /// Client-side deadline for the reply (`None`: wait forever).
    pub timeout: Option<Duration>,
    /// Sent to the server: how long the request may wait in the Thing's queue.
    pub invocation_timeout: Option<Duration>,
    /// Sent to the server: how long the operation may run.
    pub execution_timeout: Option<Duration>,
    /// Ask for no reply.
    pub oneway: bool,
    /// Ask for the execution logs with the reply.
    pub fetch_execution_logs: bool,
    /// Content type of the request payload (the reply comes back in the same one). The typed methods send
    /// [`ContentType::Msgpack`] as [`ContentType::ThingwireMsgpack`] to a server that accepts it (see
    /// [`ConnectOptions::packed_arrays`]).
    pub content_type: ContentType,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            timeout: Some(Duration::from_secs(10)),
            invocation_timeout: None,
            execution_timeout: None,
            oneway: false,
            fetch_execution_logs: false,
            content_type: ContentType::Msgpack,
        }
    }
}

/// A reply as it came off the wire.
#[derive(Debug)]
pub struct RawReply {
    /// `REPLY`, `TIMEOUT`, `EXCEPTION`, `INVALID_MESSAGE` or `HANDSHAKE`.
    pub kind: Option<MessageType>,
    /// The raw `messageType`.
    pub message_type: String,
    /// The server id.
    pub sender_id: String,
    /// Content type of `payload`.
    pub content_type: ContentType,
    /// Frame 3.
    pub payload: Vec<u8>,
    /// Frame 4.
    pub preserialized: Vec<u8>,
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct RawRequest<'a> {
    /// Target Thing.
    pub thing_id: &'a str,
    /// Property or action name (`None` is sent as `null`).
    pub objekt: Option<&'a str>,
    /// Operation name (see [`crate::protocol::op`]).
    pub operation: &'a str,
    /// Frame 3, already encoded as `options.content_type`.
    pub payload: Vec<u8>,
    /// Frame 4.
    pub preserialized: Vec<u8>,
}

/// The state of a client's connection, as its socket monitor and heartbeats see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Not connected yet, or reconnecting: requests fail at once with [`ClientError::Disconnected`].
    Connecting,
    /// Connected, and the server answered the handshake.
    Connected,
    /// The connection dropped (the server stopped, or missed its heartbeats); libzmq is reconnecting.
    Disconnected,
    /// The client was dropped.
    Closed,
}

/// Counters of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// Replies that matched no pending call (late replies of timed-out or cancelled calls).
    pub unmatched_replies: u64,
    /// Calls failed because the connection dropped while they waited.
    pub failed_by_disconnect: u64,
    /// Times the connection was lost.
    pub disconnects: u64,
}

struct Inner {
    address: String,
    client_id: String,
    /// The server id, learnt from the handshake (an `Arc` so that a request clones it without allocating).
    server_id: std::sync::Mutex<Arc<str>>,
    shared: Arc<Shared>,
    context: zmq::Context,
    state: tokio::sync::watch::Receiver<ConnectionState>,
    /// What the client presents to TCP servers (its event subscriptions too).
    credentials: Credentials,
    /// Dropped with the last clone of the client: stops the reading task.
    _closing: oneshot::Sender<()>,
}

/// A connection to one server. Cheap to clone; all clones share the socket.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.inner.address)
            .field("client_id", &self.inner.client_id)
            .field("server_id", &self.server_id())
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

/// How to connect.
#[derive(Clone)]
pub struct ConnectOptions {
    /// How long to keep trying the handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// ZMTP heartbeat interval; a peer silent for three intervals counts as gone. Default 1 s; zero turns
    /// heartbeats off.
    pub heartbeat: Duration,
    /// The ZeroMQ context (default: [`transport::context`]; INPROC needs the server's).
    pub context: Option<zmq::Context>,
    /// The client id (default: `thingwire-client|<random>`).
    pub client_id: Option<String>,
    /// What to present to a server that requires authentication ([`crate::ServerBuilder::authentication`]):
    /// PLAIN username and password, or CURVE keys. Used on `tcp://` addresses only, for requests and event
    /// subscriptions alike. Default: none.
    pub credentials: Credentials,
    /// Send calls asking for [`ContentType::Msgpack`] as [`ContentType::ThingwireMsgpack`] when the server
    /// says it accepts that (thingwire servers do; hololinked's do not): a `Vec<f64>` then travels as packed
    /// little-endian doubles, several times faster to encode and decode. Default: true. Turn it off to see
    /// plain msgpack on the wire.
    pub packed_arrays: bool,
    /// Send requests with the compact binary header ([`crate::protocol::compact`]) when the server says it
    /// reads it (thingwire servers do; hololinked's and older thingwire servers do not): two frames and a
    /// few dozen bytes instead of five frames and ~330 bytes of JSON. Default: true. Turn it off to see
    /// hololinked's JSON headers on the wire.
    pub compact_headers: bool,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("context", &self.context.as_ref().map(|_| "custom"))
            .field("client_id", &self.client_id)
            .field("credentials", &self.credentials)
            .field("packed_arrays", &self.packed_arrays)
            .field("compact_headers", &self.compact_headers)
            .finish()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_secs(1),
            context: None,
            client_id: None,
            credentials: Credentials::None,
            packed_arrays: true,
            compact_headers: true,
        }
    }
}

impl Client {
    /// Connects to `address` (`tcp://host:port`, `ipc://path` or `inproc://id`) and handshakes, retrying
    /// for up to 10 s.
    pub async fn connect(address: &str) -> Result<Self, ClientError> {
        Self::connect_with(address, ConnectOptions::default()).await
    }

    /// Connects with explicit options.
    pub async fn connect_with(address: &str, options: ConnectOptions) -> Result<Self, ClientError> {
        if Protocol::of_address(address).is_none() {
            return Err(ClientError::Zmq {
                context: format!("parsing the address `{address}`"),
                message: "expected tcp://host:port, ipc://path or inproc://id".into(),
            });
        }
        let context = options.context.unwrap_or_else(|| transport::context().clone());
        let client_id = options.client_id.unwrap_or_else(|| format!("thingwire-client|{}", crate::util::random_hex(8)));
        let zmq_error = |context: &str| {
            let context = context.to_owned();
            move |e: zmq::Error| ClientError::Zmq { context, message: e.to_string() }
        };
        let socket = context.socket(zmq::DEALER).map_err(zmq_error("creating the DEALER socket"))?;
        socket.set_identity(client_id.as_bytes()).map_err(zmq_error("setting the client id"))?;
        socket.set_linger(0).map_err(zmq_error("setting LINGER"))?;
        socket.set_sndhwm(100_000).map_err(zmq_error("setting SNDHWM"))?;
        socket.set_rcvhwm(100_000).map_err(zmq_error("setting RCVHWM"))?;
        // Queue requests only on a live connection: while the server is gone, calls fail at once instead
        // of piling up.
        socket.set_immediate(true).map_err(zmq_error("setting IMMEDIATE"))?;
        // thingwire servers authenticate TCP only: credentials on IPC would fail the mechanism handshake.
        if Protocol::of_address(address) == Some(Protocol::Tcp) {
            options.credentials.apply(&socket).map_err(|message| ClientError::Zmq {
                context: format!("setting up the credentials for {address}"),
                message,
            })?;
        }
        // ZMTP heartbeats notice a dead peer even when no request is under way.
        let heartbeat = i32::try_from(options.heartbeat.as_millis()).unwrap_or(i32::MAX).max(0);
        if heartbeat > 0 {
            socket.set_heartbeat_ivl(heartbeat).map_err(zmq_error("setting HEARTBEAT_IVL"))?;
            socket
                .set_heartbeat_timeout(heartbeat.saturating_mul(3))
                .map_err(zmq_error("setting HEARTBEAT_TIMEOUT"))?;
        }
        let monitor_endpoint = format!("inproc://thingwire-monitor-{}", crate::util::random_hex(12));
        let events = zmq::SocketEvent::DISCONNECTED as i32
            | zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
            | zmq::SocketEvent::MONITOR_STOPPED as i32;
        socket.monitor(&monitor_endpoint, events).map_err(zmq_error("starting the socket monitor"))?;
        let monitor_socket = context.socket(zmq::PAIR).map_err(zmq_error("creating the monitor socket"))?;
        monitor_socket.connect(&monitor_endpoint).map_err(zmq_error("connecting the socket monitor"))?;
        let monitor = spawn_monitor_reader(monitor_socket, address.to_owned());
        socket.connect(address).map_err(zmq_error(&format!("connecting to {address}")))?;
        // libzmq signals "the socket's state may have changed" on this descriptor; the reading task waits
        // for it, then asks the socket itself.
        // Sound (see `SocketFd::register`): both live in `Shared`, the `AsyncFd` dropped first.
        let fd = SocketFd::register(&socket)
            .map_err(|e| ClientError::Zmq { context: "registering the socket".into(), message: e.to_string() })?;
        let (state_tx, state_rx) = tokio::sync::watch::channel(ConnectionState::Connecting);
        let shared = Arc::new(Shared {
            fd,
            conn: std::sync::Mutex::new(Conn {
                socket,
                pending: foldhash::HashMap::default(),
                rehandshake: None,
                leader: false,
                stats: ClientStats::default(),
                frames: Vec::with_capacity(4),
            }),
            address: address.to_owned(),
            client_id: client_id.clone(),
            inproc: Protocol::of_address(address) == Some(Protocol::Inproc),
            counter: AtomicU64::new(0),
            state: state_tx,
            handshake_failure: std::sync::Mutex::new(None),
            transport_event: Notify::new(),
            closed: AtomicBool::new(false),
            allow_packed: options.packed_arrays,
            packed: AtomicBool::new(false),
            allow_compact: options.compact_headers,
            compact: AtomicBool::new(false),
            server_info: std::sync::Mutex::new(None),
        });
        let (closing_tx, closing_rx) = oneshot::channel();
        let reader = Reader { shared: Arc::clone(&shared), monitor: Some(monitor), closing: closing_rx };
        tokio::spawn(reader.run());
        let client = Self {
            inner: Arc::new(Inner {
                address: address.to_owned(),
                client_id,
                server_id: std::sync::Mutex::new(Arc::from("")),
                shared,
                context,
                state: state_rx,
                credentials: options.credentials,
                _closing: closing_tx,
            }),
        };
        client.handshake(options.handshake_timeout).await?;
        Ok(client)
    }

    async fn handshake(&self, timeout: Duration) -> Result<(), ClientError> {
        let shared = &self.inner.shared;
        let deadline = tokio::time::Instant::now() + timeout;
        // Not connected yet: retry soon, and at once when the socket monitor reports a finished (or failed)
        // ZMTP handshake. The pause grows to 50 ms for transports without monitor events (INPROC).
        let mut pause = Duration::from_millis(1);
        loop {
            let transport_event = shared.transport_event.notified();
            tokio::pin!(transport_event);
            transport_event.as_mut().enable();
            let id = shared.next_id();
            let header = self.header(
                MessageType::Handshake.as_str(),
                id,
                "",
                Some(""),
                "",
                &CallOptions::default(),
                &ContentType::Json,
                false,
            );
            let wait = Duration::from_millis(500).min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            let outcome = match shared.send(Some(id), &[], Outbound::json(&header, b"null".to_vec(), Vec::new())) {
                Ok(()) => tokio::time::timeout(wait, shared.reply(id)).await.ok(),
                Err(e) => Some(Err(e)),
            };
            let retry = match outcome {
                Some(Ok(reply)) => {
                    *self.inner.server_id.lock().unwrap_or_else(|p| p.into_inner()) = Arc::from(reply.sender_id());
                    return Ok(());
                }
                Some(Err(ClientError::Disconnected { .. } | ClientError::ConnectionLost { .. })) => true,
                Some(Err(e)) => return Err(e),
                // No reply in time: ask again (the pending call was cancelled when its future was dropped).
                None => false,
            };
            let refused = *shared.handshake_failure.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(reason) = refused {
                return Err(ClientError::Unauthorized { address: self.inner.address.clone(), reason });
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(ClientError::Unreachable { address: self.inner.address.clone(), timeout });
            }
            if retry {
                tokio::select! {
                    _ = transport_event => {}
                    _ = tokio::time::sleep(pause.min(left)) => {}
                }
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn header(
        &self,
        message_type: &str,
        id: u64,
        thing_id: &str,
        objekt: Option<&str>,
        operation: &str,
        options: &CallOptions,
        content_type: &ContentType,
        preserialized: bool,
    ) -> Vec<u8> {
        let server_id = Arc::clone(&self.inner.server_id.lock().unwrap_or_else(|p| p.into_inner()));
        let mut buffer = [0u8; 16];
        OutgoingRequestHeader {
            message_type,
            message_id: hex_id(id, &mut buffer),
            sender_id: &self.inner.client_id,
            receiver_id: &server_id,
            server_execution_context: OutgoingServerContext {
                invokation_timeout: options.invocation_timeout.map(|d| d.as_secs_f64()),
                execution_timeout: options.execution_timeout.map(|d| d.as_secs_f64()),
                oneway: options.oneway,
            },
            thing_execution_context: OutgoingThingContext { fetch_execution_logs: options.fetch_execution_logs },
            thing_id,
            objekt,
            operation,
            payload_content_type: content_type.as_str(),
            preencoded_payload_content_type: if preserialized { "application/octet-stream" } else { "text/plain" },
        }
        .encode()
    }

    /// The address this client connects to.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// The client id (the `senderID` of every request).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The server id, learnt from the handshake.
    pub fn server_id(&self) -> String {
        self.inner.server_id.lock().unwrap_or_else(|p| p.into_inner()).to_string()
    }

    /// What the server said about itself in its last `HANDSHAKE` reply: `Some` for a thingwire server
    /// (its version and the content types it accepts beyond hololinked's), `None` for a hololinked server
    /// and while disconnected.
    pub fn server_info(&self) -> Option<HandshakeInfo> {
        self.inner.shared.server_info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether calls asking for [`ContentType::Msgpack`] now go out as [`ContentType::ThingwireMsgpack`]
    /// (see [`ConnectOptions::packed_arrays`]).
    pub fn packed_arrays(&self) -> bool {
        self.inner.shared.packed.load(Ordering::Relaxed)
    }

    /// Whether requests now go out with compact headers (see [`ConnectOptions::compact_headers`]).
    pub fn compact_headers(&self) -> bool {
        self.inner.shared.compact.load(Ordering::Relaxed)
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        *self.inner.state.borrow()
    }

    /// A watch of the connection state: `changed().await` wakes on every change.
    pub fn state_changes(&self) -> tokio::sync::watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// The connection's counters.
    pub fn stats(&self) -> ClientStats {
        self.inner.shared.lock().stats
    }

    /// Sends one request and waits for its reply (none for oneway calls: `Ok(None)`). The request goes out
    /// in `options.content_type` exactly (never upgraded to [`ContentType::ThingwireMsgpack`]), so the reply
    /// comes back in it too.
    pub async fn request(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
    ) -> Result<Option<RawReply>, ClientError> {
        // Exactly as asked: the caller decodes the reply itself, perhaps with a plain msgpack decoder.
        let reply = self.exchange(request, options, &options.content_type).await?;
        Ok(reply.map(|r| r.into_raw(&self.server_id())))
    }

    /// The content type a call asking for `requested` is sent in: [`ContentType::ThingwireMsgpack`] instead
    /// of [`ContentType::Msgpack`] when the server named it in its last `HANDSHAKE` reply (and
    /// [`ConnectOptions::packed_arrays`] allows it), `requested` otherwise. A msgpack payload is valid in
    /// either.
    fn wire_content_type(&self, requested: &ContentType) -> ContentType {
        match requested {
            ContentType::Msgpack if self.inner.shared.packed.load(Ordering::Relaxed) => ContentType::ThingwireMsgpack,
            other => other.clone(),
        }
    }

    /// Sends a request; waits for its reply unless the call is oneway. Dropping the returned future cancels
    /// the call: its reply, if one comes, is counted in [`ClientStats::unmatched_replies`] and dropped.
    async fn exchange(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
        content_type: &ContentType,
    ) -> Result<Option<Reply>, ClientError> {
        let shared = &self.inner.shared;
        let id = shared.next_id();
        // A oneway call still gets a TIMEOUT reply if a timeout expires; nobody waits for it.
        let want_reply = !options.oneway;
        if shared.compact.load(Ordering::Relaxed) {
            let header = OutgoingCompactRequest {
                kind: MessageType::Operation,
                message_id: id,
                thing_id: request.thing_id,
                name: request.objekt,
                operation: request.operation,
                content_type,
                invocation_timeout: options.invocation_timeout,
                execution_timeout: options.execution_timeout,
                oneway: options.oneway,
                fetch_logs: options.fetch_execution_logs,
                preserialized: !request.preserialized.is_empty(),
            };
            let (header, inline) = header.encode(&request.payload).map_err(|e| ClientError::Codec(format!("{e}")))?;
            let payload = (!inline).then_some(request.payload);
            shared.send(want_reply.then_some(id), &header, Outbound::compact(payload, request.preserialized))?;
        } else {
            let header = self.header(
                MessageType::Operation.as_str(),
                id,
                request.thing_id,
                request.objekt,
                request.operation,
                options,
                content_type,
                !request.preserialized.is_empty(),
            );
            shared.send(
                want_reply.then_some(id),
                &[],
                Outbound::json(&header, request.payload, request.preserialized),
            )?;
        }
        if !want_reply {
            return Ok(None);
        }
        let reply = shared.reply(id);
        let result = match options.timeout {
            Some(t) => match tokio::time::timeout(t, reply).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(ClientError::Timeout {
                        thing: request.thing_id.to_owned(),
                        name: request.objekt.unwrap_or("").to_owned(),
                        address: self.inner.address.clone(),
                        timeout: t,
                    });
                }
            },
            None => reply.await,
        };
        result.map(Some)
    }

    /// Sends a request and turns the reply into a value or a typed error. A payload encoded in
    /// [`ContentType::Msgpack`] is sent as [`ContentType::ThingwireMsgpack`] when the server accepts it (a
    /// msgpack payload is valid in both), so that bulk numbers in the reply come back packed.
    pub async fn call<T: DeserializeOwned + 'static>(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let content_type = self.wire_content_type(&options.content_type);
        self.call_as(request, options, &content_type).await
    }

    /// [`Client::call`] with the payload already encoded in `content_type`.
    async fn call_as<T: DeserializeOwned + 'static>(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
        content_type: &ContentType,
    ) -> Result<T, ClientError> {
        let (thing, name) = (request.thing_id, request.objekt.unwrap_or(""));
        match self.exchange(request, options, content_type).await? {
            None => decode_value(b"null", &ContentType::Json),
            Some(reply) => {
                value_of(reply.kind, &reply.content_type, reply.payload(), &reply.preserialized, thing, name)
            }
        }
    }

    /// Reads a property.
    pub async fn read_property<T: DeserializeOwned + 'static>(
        &self,
        thing_id: &str,
        name: &str,
    ) -> Result<T, ClientError> {
        self.read_property_with(thing_id, name, &CallOptions::default()).await
    }

    /// Reads a property with explicit options.
    pub async fn read_property_with<T: DeserializeOwned + 'static>(
        &self,
        thing_id: &str,
        name: &str,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let request = RawRequest {
            thing_id,
            objekt: Some(name),
            operation: op::READ_PROPERTY,
            payload: null_in(&options.content_type),
            preserialized: Vec::new(),
        };
        self.call(request, options).await
    }

    /// Writes a property.
    pub async fn write_property<V: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        name: &str,
        value: &V,
    ) -> Result<(), ClientError> {
        self.write_property_with(thing_id, name, value, &CallOptions::default()).await
    }

    /// Writes a property with explicit options.
    pub async fn write_property_with<V: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        name: &str,
        value: &V,
        options: &CallOptions,
    ) -> Result<(), ClientError> {
        let content_type = self.wire_content_type(&options.content_type);
        let payload = encode_value(value, &content_type)?;
        let request = RawRequest {
            thing_id,
            objekt: Some(name),
            operation: op::WRITE_PROPERTY,
            payload,
            preserialized: Vec::new(),
        };
        self.call_as::<serde::de::IgnoredAny>(request, options, &content_type).await.map(|_| ())
    }

    /// Invokes an action with keyword arguments (any value that serializes to an object, or `()` for none).
    pub async fn invoke<T: DeserializeOwned + 'static, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        args: &A,
    ) -> Result<T, ClientError> {
        self.invoke_with(thing_id, action, args, &CallOptions::default()).await
    }

    /// Invokes an action with explicit options.
    pub async fn invoke_with<T: DeserializeOwned + 'static, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        args: &A,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let content_type = self.wire_content_type(&options.content_type);
        let payload = encode_value(args, &content_type)?;
        let request = RawRequest {
            thing_id,
            objekt: Some(action),
            operation: op::INVOKE_ACTION,
            payload,
            preserialized: Vec::new(),
        };
        self.call_as(request, options, &content_type).await
    }

    /// Invokes an action with raw bytes in the preserialized frame (hololinked passes them as the first
    /// positional argument) and keyword arguments `args` (`()` for none).
    pub async fn invoke_bytes<T: DeserializeOwned + 'static, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        bytes: Vec<u8>,
        args: &A,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let content_type = self.wire_content_type(&options.content_type);
        let payload = encode_value(args, &content_type)?;
        let request =
            RawRequest { thing_id, objekt: Some(action), operation: op::INVOKE_ACTION, payload, preserialized: bytes };
        self.call_as(request, options, &content_type).await
    }

    /// Invokes an action and returns its result with the log lines the server recorded while it ran
    /// (`fetchExecutionLogs`).
    pub async fn invoke_with_logs<T: DeserializeOwned + 'static, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        args: &A,
        options: &CallOptions,
    ) -> Result<(T, Vec<String>), ClientError> {
        #[derive(serde::Deserialize)]
        struct WithLogs<T> {
            return_value: T,
            #[serde(default)]
            execution_logs: Vec<String>,
        }
        let options = CallOptions { fetch_execution_logs: true, ..options.clone() };
        let result: WithLogs<T> = self.invoke_with(thing_id, action, args, &options).await?;
        Ok((result.return_value, result.execution_logs))
    }

    /// Fetches a Thing's Thing Description for this client's transport.
    pub async fn thing_description(&self, thing_id: &str) -> Result<serde_json::Value, ClientError> {
        let protocol = Protocol::of_address(&self.inner.address).unwrap_or(Protocol::Tcp);
        self.thing_description_with(thing_id, protocol, &CallOptions::default()).await
    }

    /// Fetches a Thing's Thing Description with the forms of `protocol`, with explicit call options.
    pub async fn thing_description_with(
        &self,
        thing_id: &str,
        protocol: Protocol,
        options: &CallOptions,
    ) -> Result<serde_json::Value, ClientError> {
        let args = serde_json::json!({"protocol": protocol.as_str(), "ignore_errors": false, "skip_names": []});
        self.invoke_with(thing_id, names::GET_THING_DESCRIPTION, &args, options).await
    }

    /// Waits until every request sent before it has reached the server (a handshake round trip: replies come
    /// back in order on one connection). Call it before dropping a client that sent oneway requests, since
    /// a dropped client discards what it has not sent yet.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ClientError> {
        self.handshake(timeout).await
    }

    /// The Things a thingwire server serves (a thingwire extension: hololinked servers answer with an
    /// `INVALID_MESSAGE`, since they know no such operation).
    pub async fn list_things(&self) -> Result<Vec<names::ThingSummary>, ClientError> {
        self.list_things_with(&CallOptions::default()).await
    }

    /// [`Client::list_things`] with explicit call options.
    pub async fn list_things_with(&self, options: &CallOptions) -> Result<Vec<names::ThingSummary>, ClientError> {
        let request = RawRequest {
            thing_id: "",
            objekt: Some(names::LIST_THINGS),
            operation: op::INVOKE_ACTION,
            payload: null_in(&options.content_type),
            preserialized: Vec::new(),
        };
        self.call(request, options).await
    }

    /// The event address of this client's server, by hololinked's conventions (TCP: port + 1; IPC: the
    /// `.event-publisher.ipc` file beside the request socket; INPROC: `/event-publisher`).
    pub fn event_address(&self) -> String {
        event_address_for(&self.inner.address)
    }

    /// Subscribes to event `event` of Thing `thing_id` (`"<prop>_change_event"` for an observable property's
    /// changes). Only messages whose topic is exactly `<thing_id>/<event>` are delivered, although ZeroMQ
    /// matches subscriptions by prefix.
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        thing_id: &str,
        event: &str,
    ) -> Result<Subscription<T>, ClientError> {
        let credentials = if Protocol::of_address(&self.inner.address) == Some(Protocol::Tcp) {
            &self.inner.credentials
        } else {
            &Credentials::None
        };
        Subscription::connect_with(
            &self.inner.context,
            &self.event_address(),
            &format!("{thing_id}/{event}"),
            credentials,
        )
        .await
    }
}

/// hololinked's event address for a request address.
pub fn event_address_for(address: &str) -> String {
    if let Some(rest) = address.strip_prefix("tcp://") {
        if let Some((host, Ok(p))) = rest.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
            return format!("tcp://{host}:{}", p.saturating_add(1));
        }
    } else if let Some(path) = address.strip_prefix("ipc://") {
        if let Some(stem) = path.strip_suffix(".ipc") {
            return format!("ipc://{stem}.event-publisher.ipc");
        }
    } else if address.starts_with("inproc://") {
        return format!("{address}/event-publisher");
    }
    address.to_owned()
}

fn null_in(ct: &ContentType) -> Vec<u8> {
    match ct {
        ct if ct.is_msgpack() => vec![0xc0],
        _ => b"null".to_vec(),
    }
}

fn encode_value<V: Serialize + ?Sized>(value: &V, ct: &ContentType) -> Result<Vec<u8>, ClientError> {
    protocol::encode(value, ct).map_err(|e| ClientError::Codec(e.to_string()))
}

fn decode_value<T: DeserializeOwned>(bytes: &[u8], ct: &ContentType) -> Result<T, ClientError> {
    protocol::decode(bytes, ct).map_err(|e| ClientError::Codec(format!("could not decode the reply: {e}")))
}

/// Turns a reply into a value or a typed error.
pub fn reply_value<T: DeserializeOwned + 'static>(reply: RawReply, thing: &str, name: &str) -> Result<T, ClientError> {
    value_of(reply.kind, &reply.content_type, &reply.payload, &reply.preserialized, thing, name)
}

/// A reply's frames 3 and 4 as a value or a typed error.
fn value_of<T: DeserializeOwned + 'static>(
    kind: Option<MessageType>,
    content_type: &ContentType,
    payload: &[u8],
    preserialized: &[u8],
    thing: &str,
    name: &str,
) -> Result<T, ClientError> {
    match kind {
        Some(MessageType::Exception) | Some(MessageType::InvalidMessage) => {
            let error =
                protocol::decode::<ErrorPayload>(payload, content_type).map(|p| p.exception).unwrap_or_else(|_| {
                    protocol::ErrorObject {
                        message: String::from_utf8_lossy(payload).into_owned(),
                        kind: "Exception".into(),
                        traceback: Vec::new(),
                        notes: None,
                    }
                });
            if kind == Some(MessageType::InvalidMessage) {
                return Err(ClientError::InvalidMessage {
                    thing: thing.into(),
                    name: name.into(),
                    kind: error.kind,
                    message: error.message,
                });
            }
            Err(ClientError::Remote(Box::new(crate::error::RemoteError {
                thing: thing.into(),
                name: name.into(),
                kind: error.kind,
                message: error.message,
                traceback: error.traceback,
                notes: error.notes,
            })))
        }
        Some(MessageType::Timeout) => {
            let word: String = decode_value(payload, content_type).unwrap_or_default();
            Err(ClientError::ServerTimeout {
                thing: thing.into(),
                name: name.into(),
                kind: TimeoutKind::from_wire(&word).unwrap_or(TimeoutKind::Execution),
            })
        }
        _ => {
            // hololinked returns `bytes` in frame 4 with frame 3 `null`.
            if (payload == b"null" || payload == [0xc0]) && !preserialized.is_empty() {
                return T::deserialize(serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(
                    preserialized,
                ))
                .map_err(|e| ClientError::Codec(format!("could not decode the reply bytes: {e}")));
            }
            crate::codec::decode_value(payload, content_type)
                .map_err(|e| ClientError::Codec(format!("could not decode the reply: {e}")))
        }
    }
}

async fn next_monitor_event(
    monitor: &mut Option<mpsc::UnboundedReceiver<(zmq::SocketEvent, u32)>>,
) -> Option<(zmq::SocketEvent, u32)> {
    match monitor {
        Some(m) => m.recv().await,
        None => std::future::pending().await,
    }
}

/// Reads a socket's monitor events on a thread of its own. libzmq sends monitor events with blocking sends
/// from its I/O and reaper threads, so the reading end must stay alive and read until the monitored socket
/// is gone (`MONITOR_STOPPED`), whatever happens to the async runtime; otherwise every TCP and IPC socket
/// of the context could stall.
fn spawn_monitor_reader(socket: zmq::Socket, address: String) -> mpsc::UnboundedReceiver<(zmq::SocketEvent, u32)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new().name("thingwire-monitor".into()).spawn(move || {
        let _ = socket.set_rcvtimeo(1000);
        let mut closed_for = 0u32;
        loop {
            match socket.recv_multipart(0) {
                Ok(frames) => {
                    let Some((event, value)) = monitor_event(&frames) else { continue };
                    if event == zmq::SocketEvent::MONITOR_STOPPED {
                        break;
                    }
                    let _ = tx.send((event, value));
                }
                Err(zmq::Error::EAGAIN) => {
                    // Nobody listens any more and the socket has not said it stopped: give it a while.
                    if tx.is_closed() {
                        closed_for += 1;
                        if closed_for > 30 {
                            tracing::warn!(%address, "socket monitor still open 30 s after its client closed");
                            break;
                        }
                    }
                }
                Err(_) => break,
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the socket monitor thread; connection state is not tracked");
    }
    rx
}

/// A reply, its frames as they came off the socket.
struct Reply {
    kind: Option<MessageType>,
    content_type: ContentType,
    header: zmq::Message,
    /// The payload's frame; `None` when it is inside a compact header's frame, from `payload_at` on.
    payload_frame: Option<zmq::Message>,
    payload_at: usize,
    preserialized: zmq::Message,
}

impl Reply {
    fn payload(&self) -> &[u8] {
        match &self.payload_frame {
            Some(frame) => frame,
            None => self.header.get(self.payload_at..).unwrap_or_default(),
        }
    }

    /// The server id the reply names; a compact header names none (the caller knows it from the handshake).
    fn sender_id(&self) -> String {
        ResponseHeader::decode(&self.header).map(|h| h.sender_id.into_owned()).unwrap_or_default()
    }

    fn into_raw(self, server_id: &str) -> RawReply {
        let (message_type, sender_id) = if compact::is_compact(&self.header) {
            (self.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(), server_id.to_owned())
        } else {
            ResponseHeader::decode(&self.header)
                .map(|h| (h.message_type.into_owned(), h.sender_id.into_owned()))
                .unwrap_or_default()
        };
        RawReply {
            kind: self.kind,
            message_type,
            sender_id,
            content_type: self.content_type.clone(),
            payload: self.payload().to_vec(),
            preserialized: self.preserialized.to_vec(),
        }
    }
}

/// A call waiting for its reply.
#[derive(Default)]
struct Slot {
    reply: Option<Result<Reply, ClientError>>,
    waker: Option<Waker>,
}

/// What the callers and the reading task share under one lock: the socket and the calls waiting for replies.
struct Conn {
    socket: zmq::Socket,
    /// Keyed by our own running numbers: foldhash, not SipHash (no attacker chooses them).
    pending: foldhash::HashMap<u64, Slot>,
    /// The message id of the handshake sent after a reconnection.
    rehandshake: Option<u64>,
    /// A waiting call reads the socket for everyone (see [`PendingReply`]).
    leader: bool,
    stats: ClientStats,
    /// The frames of the message being received (kept to reuse its allocation).
    frames: Vec<zmq::Message>,
}

/// A connection's state, shared by every clone of the client and by its reading task.
struct Shared {
    /// The socket's descriptor in the reactor. Declared before `conn`: deregistered before the socket closes.
    fd: AsyncFd<SocketFd>,
    conn: std::sync::Mutex<Conn>,
    address: String,
    client_id: String,
    inproc: bool,
    counter: AtomicU64,
    state: tokio::sync::watch::Sender<ConnectionState>,
    /// Why the last security handshake failed, until one succeeds.
    handshake_failure: std::sync::Mutex<Option<AuthRefusal>>,
    /// Notified when the socket monitor reports a finished or failed ZMTP handshake.
    transport_event: Notify,
    /// The reading task has ended: nothing would receive a reply.
    closed: AtomicBool,
    /// [`ConnectOptions::packed_arrays`].
    allow_packed: bool,
    /// The server's last `HANDSHAKE` reply named [`ContentType::ThingwireMsgpack`] (and `allow_packed`);
    /// cleared when the connection is lost, as the next server may not be thingwire.
    packed: AtomicBool,
    /// [`ConnectOptions::compact_headers`].
    allow_compact: bool,
    /// The server's last `HANDSHAKE` reply said it reads compact headers (and `allow_compact`); cleared with
    /// `packed`.
    compact: AtomicBool,
    /// What the server said about itself in its last `HANDSHAKE` reply; cleared with `packed`.
    server_info: std::sync::Mutex<Option<HandshakeInfo>>,
}

/// Messages handled per hold of the lock; the callers they complete are woken after it is released.
const BATCH: usize = 16;

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `first` and then the frames of `rest` without blocking (`[empty, header, payload,
    /// preserialized]` for hololinked's headers, `[header + payload, …]` for a compact one); with `reply_id`,
    /// registers the call under that id first. Then reads whatever replies have arrived: a send makes libzmq process the socket's
    /// pending commands, which may consume the descriptor's wake-up for a reply that the reading task would
    /// then never hear of.
    fn send(&self, reply_id: Option<u64>, first: &[u8], rest: Outbound) -> Result<(), ClientError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(ClientError::Closed { address: self.address.clone() });
        }
        // The monitor has seen the connection drop, but the socket may not have processed the pipe's end yet
        // (libzmq does that on its next call): a message sent now could go into the dead pipe and its call
        // would wait for nothing. Fail it at once, as a send with no connection does.
        if *self.state.borrow() == ConnectionState::Disconnected {
            return Err(ClientError::Disconnected { address: self.address.clone() });
        }
        let mut conn = self.lock();
        let mut left = rest.0.iter().flatten().count();
        let more = |left: usize| if left > 0 { zmq::DONTWAIT | zmq::SNDMORE } else { zmq::DONTWAIT };
        let mut sent = conn.socket.send(first, more(left));
        if sent == Err(zmq::Error::EAGAIN) {
            // A connection that has just come up is attached by a command the socket may not have processed
            // yet (libzmq processes commands on send at most once a millisecond or so): process, then retry.
            let _ = conn.socket.get_events();
            sent = conn.socket.send(first, more(left));
        }
        for part in rest.0.into_iter().flatten() {
            if sent.is_err() {
                break;
            }
            left -= 1;
            sent = conn.socket.send(part, more(left));
        }
        if sent.is_ok()
            && let Some(id) = reply_id
        {
            conn.pending.insert(id, Slot::default());
        }
        self.drain_locked(conn);
        match sent {
            Ok(()) => {
                // The first reply proves the connection for INPROC, which has no monitor events.
                if self.inproc && *self.state.borrow() == ConnectionState::Connecting {
                    let _ = self.state.send(ConnectionState::Connected);
                }
                Ok(())
            }
            Err(zmq::Error::EAGAIN) => Err(ClientError::Disconnected { address: self.address.clone() }),
            Err(e) => Err(ClientError::Zmq { context: format!("sending to {}", self.address), message: e.to_string() }),
        }
    }

    /// Waits for the reply of the call registered under `id`; dropping the future cancels the call.
    fn reply(&self, id: u64) -> PendingReply<'_> {
        PendingReply { shared: self, id, leader: false, done: false }
    }

    /// Reads and dispatches every reply that has arrived. Returns `false` once the socket said `EAGAIN`,
    /// `true` if it stopped early (a long burst: the caller should come back).
    fn drain(&self) -> bool {
        self.drain_locked(self.lock())
    }

    fn drain_locked<'a>(&'a self, mut conn: std::sync::MutexGuard<'a, Conn>) -> bool {
        for _ in 0..64 {
            let mut wakers: [Option<Waker>; BATCH] = Default::default();
            let mut exhausted = false;
            for waker in wakers.iter_mut() {
                match conn.recv_multipart() {
                    Ok(true) => *waker = self.dispatch(&mut conn),
                    Ok(false) => {
                        exhausted = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(address = %self.address, error = %e, "receiving failed");
                        exhausted = true;
                        break;
                    }
                }
            }
            drop(conn);
            for waker in wakers.into_iter().flatten() {
                waker.wake();
            }
            if exhausted {
                return false;
            }
            conn = self.lock();
        }
        true
    }

    /// Hands the message in `conn.frames` to the call it answers; returns the caller's waker.
    fn dispatch(&self, conn: &mut Conn) -> Option<Waker> {
        let reply = match conn.frames.first() {
            Some(first) if compact::is_compact(first) => self.compact_reply(&mut conn.frames),
            _ => self.json_reply(&mut conn.frames),
        };
        conn.frames.clear();
        let (id, reply) = reply?;
        if id.is_some() && id == conn.rehandshake {
            conn.rehandshake = None;
            tracing::info!(address = %self.address, server = %reply.sender_id(), "reconnected");
            let _ = self.state.send(ConnectionState::Connected);
        }
        if reply.kind == Some(MessageType::Handshake) {
            let info = HandshakeInfo::parse(&reply.preserialized);
            let packed = self.allow_packed && info.as_ref().is_some_and(|i| i.accepts(&ContentType::ThingwireMsgpack));
            self.packed.store(packed, Ordering::Relaxed);
            let compact = self.allow_compact && info.as_ref().is_some_and(HandshakeInfo::reads_compact_headers);
            self.compact.store(compact, Ordering::Relaxed);
            *self.server_info.lock().unwrap_or_else(|p| p.into_inner()) = info;
            if *self.state.borrow() != ConnectionState::Connected {
                let _ = self.state.send(ConnectionState::Connected);
            }
        }
        match id.and_then(|id| conn.pending.get_mut(&id)).filter(|slot| slot.reply.is_none()) {
            Some(slot) => {
                slot.reply = Some(Ok(reply));
                slot.waker.take()
            }
            None => {
                conn.stats.unmatched_replies += 1;
                tracing::debug!(address = %self.address, message_id = ?id, "reply for no pending call ignored");
                None
            }
        }
    }

    /// A reply with hololinked's header: a DEALER sees `[empty, header, payload, preserialized]`.
    fn json_reply(&self, frames: &mut Vec<zmq::Message>) -> Option<(Option<u64>, Reply)> {
        if frames.len() < 3 {
            tracing::debug!(address = %self.address, frames = frames.len(), "malformed reply ignored");
            return None;
        }
        let preserialized = frames.pop()?;
        let payload = frames.pop()?;
        let header = frames.pop()?;
        let (id, kind, content_type) = match ResponseHeader::decode(&header) {
            Ok(h) => (
                u64::from_str_radix(&h.message_id, 16).ok().filter(|_| h.message_id.len() <= 16),
                h.kind(),
                ContentType::parse(&h.payload_content_type),
            ),
            Err(e) => {
                tracing::debug!(address = %self.address, error = %e, "malformed reply ignored");
                return None;
            }
        };
        let reply = Reply { kind, content_type, header, payload_frame: Some(payload), payload_at: 0, preserialized };
        Some((id, reply))
    }

    /// A reply with a compact header: `[header + payload]`, then the payload's own frame when it is large
    /// and the raw bytes when there are any.
    fn compact_reply(&self, frames: &mut Vec<zmq::Message>) -> Option<(Option<u64>, Reply)> {
        let h = match CompactReply::decode(&frames[0]) {
            Ok(h) if h.frames() == frames.len() => h,
            Ok(h) => {
                tracing::debug!(address = %self.address, announced = h.frames(), frames = frames.len(), "malformed compact reply ignored");
                return None;
            }
            Err(e) => {
                tracing::debug!(address = %self.address, error = %e, "malformed compact reply ignored");
                return None;
            }
        };
        let preserialized = if h.preserialized { frames.pop()? } else { zmq::Message::new() };
        let payload_frame = if h.inline_payload.is_none() { frames.pop() } else { None };
        let header = frames.pop()?;
        let payload_at = h.inline_payload.map_or(0, |r| r.start);
        let reply = Reply {
            kind: Some(h.kind),
            content_type: h.content_type,
            header,
            payload_frame,
            payload_at,
            preserialized,
        };
        Some((Some(h.message_id), reply))
    }

    /// How many times a reconnected client sends the handshake, a second apart, before it gives up.
    const REHANDSHAKES: u32 = 60;

    /// Sends the handshake that confirms a reconnection; its message id, or `None` when it could not be sent.
    fn send_rehandshake(&self) -> Option<u64> {
        let id = self.next_id();
        let mut buffer = [0u8; 16];
        let header = OutgoingRequestHeader {
            message_type: MessageType::Handshake.as_str(),
            message_id: hex_id(id, &mut buffer),
            sender_id: &self.client_id,
            receiver_id: "",
            server_execution_context: OutgoingServerContext::default(),
            thing_execution_context: OutgoingThingContext::default(),
            thing_id: "",
            objekt: Some(""),
            operation: "",
            payload_content_type: "application/json",
            preencoded_payload_content_type: "text/plain",
        }
        .encode();
        self.lock().rehandshake = Some(id);
        match self.send(Some(id), &[], Outbound::json(&header, b"null".to_vec(), Vec::new())) {
            Ok(()) => Some(id),
            Err(_) => {
                self.lock().rehandshake = None;
                None
            }
        }
    }

    /// Ends every waiting call with `error`.
    fn fail_pending(&self, error: impl Fn() -> ClientError) -> u64 {
        let mut wakers = Vec::new();
        let mut failed = 0;
        {
            let mut conn = self.lock();
            for slot in conn.pending.values_mut().filter(|slot| slot.reply.is_none()) {
                slot.reply = Some(Err(error()));
                wakers.extend(slot.waker.take());
                failed += 1;
            }
        }
        wakers.into_iter().for_each(Waker::wake);
        failed
    }

    fn monitor_event(self: &Arc<Self>, event: zmq::SocketEvent, value: u32) {
        if let Some(reason) = handshake_refusal(event, value) {
            tracing::warn!(address = %self.address, "security handshake failed: {reason}");
            *self.handshake_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
            self.transport_event.notify_waiters();
            return;
        }
        if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED {
            self.handshake_failure.lock().unwrap_or_else(|p| p.into_inner()).take();
            self.transport_event.notify_waiters();
        }
        match event {
            zmq::SocketEvent::DISCONNECTED => {
                // What the lost server offered goes before the state changes, so that whoever sees
                // `Disconnected` also sees it forgotten; then the state: calls starting from now fail at once
                // instead of joining the lost ones.
                self.packed.store(false, Ordering::Relaxed);
                self.compact.store(false, Ordering::Relaxed);
                self.server_info.lock().unwrap_or_else(|p| p.into_inner()).take();
                let _ = self.state.send(ConnectionState::Disconnected);
                let failed = self.fail_pending(|| ClientError::ConnectionLost { address: self.address.clone() });
                {
                    let mut conn = self.lock();
                    conn.stats.disconnects += 1;
                    conn.stats.failed_by_disconnect += failed;
                }
                tracing::info!(address = %self.address, failed, "connection lost; reconnecting");
            }
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED if *self.state.borrow() == ConnectionState::Disconnected => {
                // Reconnected at the transport level: confirm with hololinked's handshake, again and again
                // while no answer comes (a server that is still starting may drop the first).
                let _ = self.state.send(ConnectionState::Connecting);
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    for _ in 0..Self::REHANDSHAKES {
                        let Some(id) = shared.send_rehandshake() else { return };
                        let answered = tokio::time::timeout(Duration::from_secs(1), shared.reply(id)).await.is_ok();
                        let state = *shared.state.borrow();
                        if answered || state != ConnectionState::Connecting || shared.closed.load(Ordering::Acquire) {
                            return;
                        }
                    }
                    tracing::warn!(address = %shared.address, "the server accepted the connection but never answered the handshake");
                });
            }
            _ => {}
        }
    }
}

impl Conn {
    /// Receives one whole message into `self.frames` without blocking; `Ok(false)` if none is waiting.
    fn recv_multipart(&mut self) -> Result<bool, zmq::Error> {
        recv_whole(&self.socket, &mut self.frames, usize::MAX)
    }
}

/// Reads one whole message into `frames` (cleared first; frames past `keep` are read and dropped) without
/// waiting: `Ok(false)` when none is there. A message's frames arrive together, so once the first is read
/// the rest are.
pub(crate) fn recv_whole(
    socket: &zmq::Socket,
    frames: &mut Vec<zmq::Message>,
    keep: usize,
) -> Result<bool, zmq::Error> {
    frames.clear();
    let mut first = true;
    loop {
        let mut frame = zmq::Message::new();
        match socket.recv(&mut frame, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) if first => return Ok(false),
            Err(e) => return Err(e),
        }
        first = false;
        let more = frame.get_more();
        if frames.len() < keep {
            frames.push(frame);
        }
        if !more {
            return Ok(true);
        }
    }
}

/// A frame to send: small ones are copied into the message (no allocation below 34 bytes), large ones handed
/// over without copying.
fn frame(bytes: Vec<u8>) -> zmq::Message {
    if bytes.len() < 8192 { zmq::Message::from(&bytes[..]) } else { zmq::Message::from(bytes) }
}

/// The frames of a request after its first (see [`Shared::send`]).
struct Outbound([Option<zmq::Message>; 3]);

impl Outbound {
    /// After the empty delimiter: hololinked's JSON header, the payload, the raw bytes.
    fn json(header: &[u8], payload: Vec<u8>, preserialized: Vec<u8>) -> Self {
        Self([Some(zmq::Message::from(header)), Some(frame(payload)), Some(frame(preserialized))])
    }

    /// After a compact header: the payload when it is not inside the header's frame, the raw bytes if any.
    fn compact(payload: Option<Vec<u8>>, preserialized: Vec<u8>) -> Self {
        Self([payload.map(frame), (!preserialized.is_empty()).then(|| frame(preserialized)), None])
    }
}

/// The reply of the call registered under `id`. Dropping it before it completes cancels the call: the slot
/// goes, and a reply that comes later is counted as unmatched.
///
/// Waiting calls share the reading: one of them at a time (the leader) waits for the socket itself, reads
/// whatever arrives and hands each reply to its caller. A lone call is thus woken by the reactor directly,
/// with no task in between. A leader that completes or is dropped wakes another waiting call to take over.
struct PendingReply<'a> {
    shared: &'a Shared,
    id: u64,
    leader: bool,
    done: bool,
}

impl Conn {
    /// Gives up the leadership if `leader`, and returns a waiting call to wake so that it takes over (none if
    /// someone leads, or nobody waits).
    fn successor(&mut self, leader: bool) -> Option<Waker> {
        if leader {
            self.leader = false;
        }
        if self.leader {
            return None;
        }
        self.pending.values_mut().filter(|slot| slot.reply.is_none()).find_map(|slot| slot.waker.take())
    }
}

impl Future for PendingReply<'_> {
    type Output = Result<Reply, ClientError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let mut conn = this.shared.lock();
            let Some(slot) = conn.pending.get_mut(&this.id) else {
                let successor = conn.successor(this.leader);
                drop(conn);
                (this.leader, this.done) = (false, true);
                if let Some(waker) = successor {
                    waker.wake();
                }
                return Poll::Ready(Err(ClientError::Closed { address: this.shared.address.clone() }));
            };
            if let Some(reply) = slot.reply.take() {
                conn.pending.remove(&this.id);
                let successor = conn.successor(this.leader);
                drop(conn);
                (this.leader, this.done) = (false, true);
                if let Some(waker) = successor {
                    waker.wake();
                }
                return Poll::Ready(reply);
            }
            match &mut slot.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                waker => *waker = Some(cx.waker().clone()),
            }
            if !this.leader {
                if conn.leader {
                    return Poll::Pending;
                }
                conn.leader = true;
                this.leader = true;
            }
            drop(conn);
            match this.shared.fd.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(mut guard)) => {
                    if !this.shared.drain() {
                        guard.clear_ready();
                    }
                }
                Poll::Ready(Err(e)) => {
                    // The reactor is gone (the runtime is shutting down).
                    let mut conn = this.shared.lock();
                    conn.pending.remove(&this.id);
                    let successor = conn.successor(true);
                    drop(conn);
                    (this.leader, this.done) = (false, true);
                    if let Some(waker) = successor {
                        waker.wake();
                    }
                    return Poll::Ready(Err(ClientError::Zmq {
                        context: format!("waiting for a reply from {}", this.shared.address),
                        message: e.to_string(),
                    }));
                }
            }
        }
    }
}

impl Drop for PendingReply<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut conn = self.shared.lock();
            conn.pending.remove(&self.id);
            let successor = conn.successor(self.leader);
            drop(conn);
            if let Some(waker) = successor {
                waker.wake();
            }
        }
    }
}

/// The task that follows a connection's monitor events (and reads replies when no waiting call does).
struct Reader {
    shared: Arc<Shared>,
    monitor: Option<mpsc::UnboundedReceiver<(zmq::SocketEvent, u32)>>,
    closing: oneshot::Receiver<()>,
}

impl Reader {
    async fn run(mut self) {
        loop {
            // Waiting calls read their replies themselves. Should the leading one stop being polled without
            // being dropped, this task reads for the others every 10 ms meanwhile.
            let waiting = !self.shared.lock().pending.is_empty();
            let sweep = Duration::from_millis(if waiting { 10 } else { 250 });
            tokio::select! {
                _ = &mut self.closing => break,
                _ = tokio::time::sleep(sweep) => {
                    if waiting {
                        self.shared.drain();
                    }
                }
                event = next_monitor_event(&mut self.monitor), if self.monitor.is_some() => match event {
                    Some((event, value)) => self.shared.monitor_event(event, value),
                    None => {
                        tracing::warn!(address = %self.shared.address, "the socket monitor stopped; connection state is no longer tracked");
                        self.monitor = None;
                    }
                },
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // The client is gone, or the runtime is shutting down: no reply will be read any more.
        self.shared.closed.store(true, Ordering::Release);
        self.shared.fail_pending(|| ClientError::Closed { address: self.shared.address.clone() });
        let _ = self.shared.state.send(ConnectionState::Closed);
    }
}

/// A socket monitor message: the event (a u16) and its value (an error or status code, a u32) in frame 0.
fn monitor_event(frames: &[Vec<u8>]) -> Option<(zmq::SocketEvent, u32)> {
    let first = frames.first()?;
    let raw = u16::from_ne_bytes([*first.first()?, *first.get(1)?]);
    let value = first.get(2..6).map_or(0, |v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]));
    Some((zmq::SocketEvent::from_raw(raw), value))
}

/// A short-lived socket monitor that reports how the first connection of a socket fared.
struct FirstHandshake {
    monitor: zmq::Socket,
}

impl FirstHandshake {
    const EVENTS: i32 = zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32
        | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
        | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
        | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32
        | zmq::SocketEvent::CONNECT_RETRIED as i32;

    /// Starts watching `socket` (before it connects).
    fn watch(context: &zmq::Context, socket: &zmq::Socket) -> Result<Self, zmq::Error> {
        let endpoint = format!("inproc://thingwire-handshake-{}", crate::util::random_hex(12));
        socket.monitor(&endpoint, Self::EVENTS)?;
        let monitor = context.socket(zmq::PAIR)?;
        monitor.set_linger(0)?;
        monitor.connect(&endpoint)?;
        Ok(Self { monitor })
    }

    /// The refusal, if the server refused the first handshake within `wait`. `None` when it succeeded, when
    /// the server is not reachable yet (libzmq retries the connection), or when nothing happened in time.
    async fn outcome(self, socket: &zmq::Socket, wait: Duration) -> Option<AuthRefusal> {
        let monitor = self.monitor;
        let waited = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + wait;
            let mut refusal = None;
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let millis = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
                if left.is_zero() || monitor.set_rcvtimeo(millis).is_err() {
                    break;
                }
                let Ok(frames) = monitor.recv_multipart(0) else { break };
                let Some((event, value)) = monitor_event(&frames) else { continue };
                if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED || event == zmq::SocketEvent::CONNECT_RETRIED {
                    break;
                }
                if let Some(reason) = handshake_refusal(event, value) {
                    refusal = Some(reason);
                    break;
                }
            }
            (monitor, refusal)
        })
        .await;
        // Stop the monitor before its reader goes (libzmq's blocking event sends would wait for a reader that
        // is gone): a monitor with no events replaces it.
        let quiet = format!("inproc://thingwire-handshake-{}", crate::util::random_hex(12));
        if let Err(e) = socket.monitor(&quiet, 0) {
            tracing::warn!(error = %e, "could not stop the subscription's handshake monitor");
        }
        match waited {
            Ok((monitor, refusal)) => {
                drop(monitor);
                refusal
            }
            Err(_) => None,
        }
    }
}

/// What a failed ZMTP security handshake means, from its monitor event and value.
fn handshake_refusal(event: zmq::SocketEvent, value: u32) -> Option<AuthRefusal> {
    const MECHANISM_MISMATCH: u32 = 0x1100_0002;
    const CRYPTOGRAPHIC: u32 = 0x1100_0001;
    Some(match event {
        zmq::SocketEvent::HANDSHAKE_FAILED_AUTH => AuthRefusal::Refused { status: value },
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL if value == MECHANISM_MISMATCH => AuthRefusal::MechanismMismatch,
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL if value == CRYPTOGRAPHIC => AuthRefusal::CurveKey,
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => AuthRefusal::Protocol { code: value },
        zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL => AuthRefusal::NoDetail { errno: value },
        _ => return None,
    })
}

/// One received event.
#[derive(Debug, Clone)]
pub struct EventMessage<T> {
    /// The topic, `<thing_id>/<event>`.
    pub topic: String,
    /// The event's message id.
    pub message_id: String,
    /// The decoded data.
    pub data: T,
    /// Frame 4 (raw bytes events).
    pub preserialized: Vec<u8>,
}

/// A stream of typed events of one topic.
///
/// Events wait in the SUB socket's queue (at most [`Subscription::HIGH_WATER_MARK`] of them) until the
/// stream is polled; a consumer that falls further behind loses the excess at the publisher, never memory.
/// Events from thingwire servers carry a running number, so the stream counts what it missed
/// ([`Subscription::missed`]); hololinked servers don't number their events.
pub struct Subscription<T> {
    /// Declared before `socket`, so dropped first: libzmq's descriptor stays open while it is registered.
    fd: AsyncFd<SocketFd>,
    socket: zmq::Socket,
    /// The frames of the message being read, reused from one event to the next.
    frames: Vec<zmq::Message>,
    topic: String,
    received: u64,
    missed: u64,
    last: Option<(String, u64)>,
    _data: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("topic", &self.topic).finish()
    }
}

impl<T: DeserializeOwned> Subscription<T> {
    /// Subscribes to `topic` at the PUB address `address`.
    pub async fn connect(context: &zmq::Context, address: &str, topic: &str) -> Result<Self, ClientError> {
        Self::connect_with(context, address, topic, &Credentials::None).await
    }

    /// Subscribes to `topic` at the PUB address `address`, presenting `credentials` to a server that requires
    /// authentication.
    pub async fn connect_with(
        context: &zmq::Context,
        address: &str,
        topic: &str,
        credentials: &Credentials,
    ) -> Result<Self, ClientError> {
        let fail =
            |message: String| ClientError::Zmq { context: format!("subscribing to {topic} at {address}"), message };
        let socket = context.socket(zmq::SUB).map_err(|e| fail(e.to_string()))?;
        socket.set_linger(0).map_err(|e| fail(e.to_string()))?;
        socket.set_rcvhwm(Self::HIGH_WATER_MARK).map_err(|e| fail(e.to_string()))?;
        credentials.apply(&socket).map_err(fail)?;
        // TCP and IPC connections have a security handshake the server may refuse (wrong credentials, or its
        // subscriber limit): watch the first one, so that a refusal fails here instead of the subscription
        // staying silent. INPROC has no handshake.
        let watch = match Protocol::of_address(address) {
            Some(Protocol::Inproc) | None => None,
            Some(_) => Some(FirstHandshake::watch(context, &socket).map_err(|e| fail(e.to_string()))?),
        };
        socket.connect(address).map_err(|e| fail(e.to_string()))?;
        if let Some(watch) = watch
            && let Some(reason) = watch.outcome(&socket, Self::HANDSHAKE_WAIT).await
        {
            return Err(ClientError::Unauthorized { address: address.to_owned(), reason });
        }
        socket.set_subscribe(topic.as_bytes()).map_err(|e| fail(e.to_string()))?;
        // Sound (see `SocketFd::register`): the `AsyncFd` field is declared, so dropped, before the socket.
        let fd = SocketFd::register(&socket).map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            fd,
            socket,
            frames: Vec::with_capacity(5),
            topic: topic.to_owned(),
            received: 0,
            missed: 0,
            last: None,
            _data: std::marker::PhantomData,
        })
    }

    /// Events queued in the socket before the oldest are dropped.
    pub const HIGH_WATER_MARK: i32 = 10_000;

    /// How long subscribing waits for the server's verdict on the connection's security handshake (on
    /// loopback it takes about a millisecond). A server that is not reachable yet ends the wait at once: the
    /// subscription then connects whenever the server comes up, as ZeroMQ subscriptions do.
    pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Events received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Events of this topic the publisher sent but this stream never saw (a slow consumer, or the slow-joiner
    /// window after a reconnect), counted from the running numbers thingwire servers put in message ids.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    fn note_received(&mut self, message_id: &str) {
        self.received += 1;
        let Some((prefix, number)) = message_id.rsplit_once('-') else { return };
        let Ok(number) = u64::from_str_radix(number, 16) else { return };
        match &mut self.last {
            Some((last_prefix, last)) if last_prefix == prefix => {
                if number > *last + 1 {
                    self.missed += number - *last - 1;
                }
                *last = number;
            }
            // A new publisher (or the first event): remember its prefix, once.
            _ => self.last = Some((prefix.to_owned(), number)),
        }
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<EventMessage<T>, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // A publisher sends five frames; more than that is not an event, and is not kept.
            match recv_whole(&this.socket, &mut this.frames, 6) {
                Ok(true) => {}
                Ok(false) => match this.fd.poll_read_ready(cx) {
                    // libzmq's descriptor only says that something changed: read again before waiting again.
                    Poll::Ready(Ok(mut ready)) => {
                        ready.clear_ready();
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Some(Err(ClientError::Zmq {
                            context: "waiting for an event".into(),
                            message: e.to_string(),
                        })));
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) => {
                    return Poll::Ready(Some(Err(ClientError::Zmq {
                        context: "receiving an event".into(),
                        message: e.to_string(),
                    })));
                }
            }
            let frames = &this.frames;
            // ZeroMQ matches by prefix: `x/status` also receives `x/status_change_event`. Keep exact topics.
            if frames.len() != 5 || &frames[0][..] != this.topic.as_bytes() {
                continue;
            }
            let header = match EventHeader::decode(&frames[2]) {
                Ok(h) => h,
                Err(e) => return Poll::Ready(Some(Err(ClientError::Codec(format!("bad event header: {e}"))))),
            };
            let ct = ContentType::parse(&header.payload_content_type);
            let data = if frames[3][..] == b"null"[..] && !frames[4].is_empty() {
                T::deserialize(serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(&frames[4]))
                    .map_err(|e| ClientError::Codec(e.to_string()))
            } else {
                decode_value(&frames[3], &ct)
            };
            let message_id = header.message_id.into_owned();
            let preserialized = frames[4].to_vec();
            this.note_received(&message_id);
            return Poll::Ready(Some(data.map(|data| EventMessage {
                topic: this.topic.clone(),
                message_id,
                data,
                preserialized,
            })));
        }
    }
}

/// One event as it came off the wire, whatever its topic (of the prefixes subscribed) and content type.
#[derive(Debug)]
pub(crate) struct RawEvent {
    /// `<thing>/<event>`.
    pub(crate) topic: String,
    /// How `payload` is encoded.
    pub(crate) content_type: ContentType,
    /// Frame 3.
    pub(crate) payload: Vec<u8>,
    /// Frame 4.
    pub(crate) preserialized: Vec<u8>,
}

/// The events of every topic under some prefixes of one publisher, undecoded: what a gateway relays. Like a
/// [`Subscription`], it reconnects by itself when the publisher comes back.
pub(crate) struct RawEvents {
    /// Declared before `socket`, so dropped first (see [`Subscription`]).
    fd: AsyncFd<SocketFd>,
    socket: zmq::Socket,
    frames: Vec<zmq::Message>,
}

impl RawEvents {
    /// Subscribes to every topic that starts with one of `prefixes` at the PUB address `address`, presenting
    /// `credentials` over TCP.
    pub(crate) fn connect(address: &str, credentials: &Credentials, prefixes: &[String]) -> Result<Self, ClientError> {
        let fail =
            |message: String| ClientError::Zmq { context: format!("subscribing to events at {address}"), message };
        let socket = transport::context().socket(zmq::SUB).map_err(|e| fail(e.to_string()))?;
        socket.set_linger(0).map_err(|e| fail(e.to_string()))?;
        socket.set_rcvhwm(Subscription::<()>::HIGH_WATER_MARK).map_err(|e| fail(e.to_string()))?;
        if Protocol::of_address(address) == Some(Protocol::Tcp) {
            credentials.apply(&socket).map_err(fail)?;
        }
        socket.connect(address).map_err(|e| fail(e.to_string()))?;
        for prefix in prefixes {
            socket.set_subscribe(prefix.as_bytes()).map_err(|e| fail(e.to_string()))?;
        }
        // Sound (see `SocketFd::register`): the `AsyncFd` field is declared, so dropped, before the socket.
        let fd = SocketFd::register(&socket).map_err(|e| fail(e.to_string()))?;
        Ok(Self { fd, socket, frames: Vec::with_capacity(5) })
    }

    /// The next event; messages that are not events (not five frames, a header that does not decode) are
    /// skipped.
    pub(crate) async fn next(&mut self) -> Result<RawEvent, ClientError> {
        let zmq_error =
            |e: std::io::Error| ClientError::Zmq { context: "waiting for an event".into(), message: e.to_string() };
        loop {
            match recv_whole(&self.socket, &mut self.frames, 6) {
                Ok(true) => {
                    let frames = &self.frames;
                    if frames.len() != 5 {
                        continue;
                    }
                    let Ok(header) = EventHeader::decode(&frames[2]) else { continue };
                    return Ok(RawEvent {
                        topic: String::from_utf8_lossy(&frames[0]).into_owned(),
                        content_type: ContentType::parse(&header.payload_content_type),
                        payload: frames[3].to_vec(),
                        preserialized: frames[4].to_vec(),
                    });
                }
                Ok(false) => self.fd.readable().await.map_err(zmq_error)?.clear_ready(),
                Err(e) => {
                    return Err(ClientError::Zmq { context: "receiving an event".into(), message: e.to_string() });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_addresses_follow_hololinked() {
        assert_eq!(event_address_for("tcp://127.0.0.1:5555"), "tcp://127.0.0.1:5556");
        assert_eq!(event_address_for("ipc:///h/s/lab.ipc"), "ipc:///h/s/lab.event-publisher.ipc");
        assert_eq!(event_address_for("inproc://lab"), "inproc://lab/event-publisher");
    }
}

/// One Thing on one connection, with the call options in force: what generated typed clients wrap.
#[derive(Debug, Clone)]
pub struct ThingHandle {
    client: Client,
    thing_id: Arc<str>,
    options: CallOptions,
}

impl ThingHandle {
    /// Connects to `address` and addresses Thing `thing_id`.
    pub async fn connect(address: &str, thing_id: &str) -> Result<Self, ClientError> {
        Ok(Self::new(Client::connect(address).await?, thing_id))
    }

    /// Addresses Thing `thing_id` over an existing connection.
    pub fn new(client: Client, thing_id: &str) -> Self {
        Self { client, thing_id: Arc::from(thing_id), options: CallOptions::default() }
    }

    /// The connection.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The Thing's id.
    pub fn thing_id(&self) -> &str {
        &self.thing_id
    }

    /// The options every call uses.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// A handle whose calls use `options`.
    pub fn with_options(&self, options: CallOptions) -> Self {
        Self { options, ..self.clone() }
    }

    /// A handle whose calls wait at most `timeout` for their reply.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        self.with_options(CallOptions { timeout: Some(timeout), ..self.options.clone() })
    }

    /// Reads a property.
    pub async fn read<T: DeserializeOwned + 'static>(&self, name: &str) -> Result<T, ClientError> {
        self.client.read_property_with(&self.thing_id, name, &self.options).await
    }

    /// Writes a property.
    pub async fn write<V: Serialize + ?Sized>(&self, name: &str, value: &V) -> Result<(), ClientError> {
        self.client.write_property_with(&self.thing_id, name, value, &self.options).await
    }

    /// Invokes an action whose keyword arguments are already encoded in `content_type` (from
    /// [`ThingHandle::content_type`]).
    pub async fn invoke_encoded<T: DeserializeOwned + 'static>(
        &self,
        action: &str,
        payload: Vec<u8>,
        content_type: &ContentType,
    ) -> Result<T, ClientError> {
        let request = RawRequest {
            thing_id: &self.thing_id,
            objekt: Some(action),
            operation: op::INVOKE_ACTION,
            payload,
            preserialized: Vec::new(),
        };
        self.client.call_as(request, &self.options, content_type).await
    }

    /// Invokes an action with keyword arguments.
    pub async fn invoke<T: DeserializeOwned + 'static, A: Serialize + ?Sized>(
        &self,
        action: &str,
        args: &A,
    ) -> Result<T, ClientError> {
        self.client.invoke_with(&self.thing_id, action, args, &self.options).await
    }

    /// The content type a request sent now is encoded in: the options' one, or
    /// [`ContentType::ThingwireMsgpack`] for [`ContentType::Msgpack`] when the server accepts it (see
    /// [`ConnectOptions::packed_arrays`]).
    pub fn content_type(&self) -> ContentType {
        self.client.wire_content_type(&self.options.content_type)
    }

    /// Subscribes to an event (or `"<property>_change_event"`).
    pub async fn subscribe<T: DeserializeOwned>(&self, event: &str) -> Result<Subscription<T>, ClientError> {
        self.client.subscribe(&self.thing_id, event).await
    }
}

/// A typed event of a Thing, ready to subscribe to.
#[derive(Debug, Clone)]
pub struct EventClient<T> {
    handle: ThingHandle,
    name: &'static str,
    _data: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> EventClient<T> {
    /// The event `name` of the Thing behind `handle`.
    pub fn new(handle: ThingHandle, name: &'static str) -> Self {
        Self { handle, name, _data: std::marker::PhantomData }
    }

    /// Subscribes: a stream of the event's data.
    pub async fn subscribe(&self) -> Result<Subscription<T>, ClientError> {
        self.handle.subscribe(self.name).await
    }
}
