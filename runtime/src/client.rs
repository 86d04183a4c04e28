//! A minimal async client: handshake, request/reply matched by `messageID`, typed helpers, and event
//! subscriptions. It drives thingwire servers and hololinked 0.4 servers alike.
//!
//! One [`Client`] owns one DEALER socket, driven by one task; clones share it, and any number of calls may
//! be in flight at once (replies are matched to callers by message id). The DEALER's routing id is the
//! client id, which is also the `senderID` of every request, so replies find their way back without the
//! client knowing the server id in advance.
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

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tmq::AsZmqSocket;
use tokio::sync::{mpsc, oneshot};

use crate::auth::Credentials;
use crate::error::ClientError;
use crate::protocol::{
    self, ContentType, ErrorPayload, EventHeader, MessageType, OutgoingRequestHeader, OutgoingServerContext,
    OutgoingThingContext, ResponseHeader, TimeoutKind, op,
};
use crate::transport::{self, Protocol};

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
    /// Content type of the request payload (the reply comes back in the same one).
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

type ReplySender = oneshot::Sender<Result<RawReply, ClientError>>;

enum Command {
    Send { message_id: String, frames: Vec<Vec<u8>>, reply: Option<ReplySender> },
    Cancel(String),
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
    server_id: std::sync::Mutex<String>,
    commands: mpsc::UnboundedSender<Command>,
    counter: AtomicU64,
    context: zmq::Context,
    state: tokio::sync::watch::Receiver<ConnectionState>,
    stats: Arc<std::sync::Mutex<ClientStats>>,
    /// What the client presents to TCP servers (its event subscriptions too).
    credentials: Credentials,
    /// Why the last security handshake failed, until one succeeds.
    handshake_failure: HandshakeFailure,
}

type HandshakeFailure = Arc<std::sync::Mutex<Option<String>>>;

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
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("context", &self.context.as_ref().map(|_| "custom"))
            .field("client_id", &self.client_id)
            .field("credentials", &self.credentials)
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
        let dealer = {
            use tmq::FromZmqSocket;
            tmq::dealer::Dealer::from_zmq_socket(socket)
                .map_err(|e| ClientError::Zmq { context: "registering the socket".into(), message: e.to_string() })?
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = tokio::sync::watch::channel(ConnectionState::Connecting);
        let stats = Arc::new(std::sync::Mutex::new(ClientStats::default()));
        let handshake_failure = HandshakeFailure::default();
        let task = ConnectionTask {
            dealer,
            monitor: Some(monitor),
            commands: rx,
            address: address.to_owned(),
            client_id: client_id.clone(),
            pending: HashMap::new(),
            state: state_tx,
            stats: Arc::clone(&stats),
            rehandshake: None,
            counter: 0,
            handshake_failure: Arc::clone(&handshake_failure),
        };
        tokio::spawn(task.run());
        let client = Self {
            inner: Arc::new(Inner {
                address: address.to_owned(),
                client_id,
                server_id: std::sync::Mutex::new(String::new()),
                commands: tx,
                counter: AtomicU64::new(0),
                context,
                state: state_rx,
                stats,
                credentials: options.credentials,
                handshake_failure,
            }),
        };
        client.handshake(options.handshake_timeout).await?;
        Ok(client)
    }

    async fn handshake(&self, timeout: Duration) -> Result<(), ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message_id = self.next_id();
            let frames = self.frames(
                MessageType::Handshake.as_str(),
                &message_id,
                "",
                Some(""),
                "",
                &CallOptions::default(),
                b"null".to_vec(),
                Vec::new(),
            );
            let rx = self.send(message_id.clone(), frames, true)?.ok_or_else(|| self.closed())?;
            let wait = Duration::from_millis(500).min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            let retry_after = match tokio::time::timeout(wait, rx).await {
                Ok(Ok(Ok(reply))) => {
                    *self.inner.server_id.lock().unwrap_or_else(|p| p.into_inner()) = reply.sender_id;
                    return Ok(());
                }
                // Not connected yet: try again shortly.
                Ok(Ok(Err(ClientError::Disconnected { .. } | ClientError::ConnectionLost { .. }))) => {
                    Some(Duration::from_millis(50))
                }
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Err(_)) => return Err(self.closed()),
                Err(_) => {
                    let _ = self.inner.commands.send(Command::Cancel(message_id));
                    None
                }
            };
            let refused = self.inner.handshake_failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(message) = refused {
                return Err(ClientError::Zmq {
                    context: format!("authenticating with {}", self.inner.address),
                    message,
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Unreachable { address: self.inner.address.clone(), timeout });
            }
            if let Some(pause) = retry_after {
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
            }
        }
    }

    fn closed(&self) -> ClientError {
        ClientError::Closed { address: self.inner.address.clone() }
    }

    fn next_id(&self) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:x}", n)
    }

    #[allow(clippy::too_many_arguments)]
    fn frames(
        &self,
        message_type: &str,
        message_id: &str,
        thing_id: &str,
        objekt: Option<&str>,
        operation: &str,
        options: &CallOptions,
        payload: Vec<u8>,
        preserialized: Vec<u8>,
    ) -> Vec<Vec<u8>> {
        let header = OutgoingRequestHeader {
            message_type,
            message_id,
            sender_id: &self.inner.client_id,
            receiver_id: &self.server_id(),
            server_execution_context: OutgoingServerContext {
                invokation_timeout: options.invocation_timeout.map(|d| d.as_secs_f64()),
                execution_timeout: options.execution_timeout.map(|d| d.as_secs_f64()),
                oneway: options.oneway,
            },
            thing_execution_context: OutgoingThingContext { fetch_execution_logs: options.fetch_execution_logs },
            thing_id,
            objekt,
            operation,
            payload_content_type: options.content_type.as_str(),
            preencoded_payload_content_type: if preserialized.is_empty() {
                "text/plain"
            } else {
                "application/octet-stream"
            },
        }
        .encode();
        vec![Vec::new(), header, payload, preserialized]
    }

    fn send(
        &self,
        message_id: String,
        frames: Vec<Vec<u8>>,
        want_reply: bool,
    ) -> Result<Option<oneshot::Receiver<Result<RawReply, ClientError>>>, ClientError> {
        let (reply, rx) = if want_reply {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.inner.commands.send(Command::Send { message_id, frames, reply }).map_err(|_| self.closed())?;
        Ok(rx)
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
        self.inner.server_id.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
        *self.inner.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one request and waits for its reply (none for oneway calls: `Ok(None)`).
    pub async fn request(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
    ) -> Result<Option<RawReply>, ClientError> {
        let message_id = self.next_id();
        let frames = self.frames(
            MessageType::Operation.as_str(),
            &message_id,
            request.thing_id,
            request.objekt,
            request.operation,
            options,
            request.payload,
            request.preserialized,
        );
        // A oneway call still gets a TIMEOUT reply if a timeout expires; nobody waits for it.
        let Some(rx) = self.send(message_id.clone(), frames, !options.oneway)? else {
            return Ok(None);
        };
        let guard = CancelOnDrop { commands: &self.inner.commands, message_id: Some(message_id) };
        let result = match options.timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(r) => r.map_err(|_| self.closed()).and_then(|r| r),
                Err(_) => {
                    return Err(ClientError::Timeout {
                        thing: request.thing_id.to_owned(),
                        name: request.objekt.unwrap_or("").to_owned(),
                        address: self.inner.address.clone(),
                        timeout: t,
                    });
                }
            },
            None => rx.await.map_err(|_| self.closed()).and_then(|r| r),
        };
        guard.disarm();
        result.map(Some)
    }

    /// Sends a request and turns the reply into a value or a typed error.
    pub async fn call<T: DeserializeOwned>(
        &self,
        request: RawRequest<'_>,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let thing = request.thing_id.to_owned();
        let name = request.objekt.unwrap_or("").to_owned();
        match self.request(request, options).await? {
            None => decode_value(b"null", &ContentType::Json),
            Some(reply) => reply_value(reply, &thing, &name),
        }
    }

    /// Reads a property.
    pub async fn read_property<T: DeserializeOwned>(&self, thing_id: &str, name: &str) -> Result<T, ClientError> {
        self.read_property_with(thing_id, name, &CallOptions::default()).await
    }

    /// Reads a property with explicit options.
    pub async fn read_property_with<T: DeserializeOwned>(
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
        let payload = encode_value(value, &options.content_type)?;
        let request = RawRequest {
            thing_id,
            objekt: Some(name),
            operation: op::WRITE_PROPERTY,
            payload,
            preserialized: Vec::new(),
        };
        self.call::<serde::de::IgnoredAny>(request, options).await.map(|_| ())
    }

    /// Invokes an action with keyword arguments (any value that serializes to an object, or `()` for none).
    pub async fn invoke<T: DeserializeOwned, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        args: &A,
    ) -> Result<T, ClientError> {
        self.invoke_with(thing_id, action, args, &CallOptions::default()).await
    }

    /// Invokes an action with explicit options.
    pub async fn invoke_with<T: DeserializeOwned, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        args: &A,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let payload = encode_value(args, &options.content_type)?;
        let request = RawRequest {
            thing_id,
            objekt: Some(action),
            operation: op::INVOKE_ACTION,
            payload,
            preserialized: Vec::new(),
        };
        self.call(request, options).await
    }

    /// Invokes an action with raw bytes in the preserialized frame (hololinked passes them as the first
    /// positional argument) and keyword arguments `args` (`()` for none).
    pub async fn invoke_bytes<T: DeserializeOwned, A: Serialize + ?Sized>(
        &self,
        thing_id: &str,
        action: &str,
        bytes: Vec<u8>,
        args: &A,
        options: &CallOptions,
    ) -> Result<T, ClientError> {
        let payload = encode_value(args, &options.content_type)?;
        let request =
            RawRequest { thing_id, objekt: Some(action), operation: op::INVOKE_ACTION, payload, preserialized: bytes };
        self.call(request, options).await
    }

    /// Invokes an action and returns its result with the log lines the server recorded while it ran
    /// (`fetchExecutionLogs`).
    pub async fn invoke_with_logs<T: DeserializeOwned, A: Serialize + ?Sized>(
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
        self.invoke_with(thing_id, crate::server::GET_THING_DESCRIPTION, &args, options).await
    }

    /// Waits until every request sent before it has reached the server (a handshake round trip: replies come
    /// back in order on one connection). Call it before dropping a client that sent oneway requests, since
    /// a dropped client discards what it has not sent yet.
    pub async fn flush(&self, timeout: Duration) -> Result<(), ClientError> {
        self.handshake(timeout).await
    }

    /// The Things a thingwire server serves (a thingwire extension: hololinked servers answer with an
    /// `INVALID_MESSAGE`, since they know no such operation).
    pub async fn list_things(&self) -> Result<Vec<crate::server::ThingSummary>, ClientError> {
        self.list_things_with(&CallOptions::default()).await
    }

    /// [`Client::list_things`] with explicit call options.
    pub async fn list_things_with(
        &self,
        options: &CallOptions,
    ) -> Result<Vec<crate::server::ThingSummary>, ClientError> {
        let request = RawRequest {
            thing_id: "",
            objekt: Some(crate::server::LIST_THINGS),
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

struct CancelOnDrop<'a> {
    commands: &'a mpsc::UnboundedSender<Command>,
    message_id: Option<String>,
}

impl CancelOnDrop<'_> {
    fn disarm(mut self) {
        self.message_id = None;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.message_id.take() {
            let _ = self.commands.send(Command::Cancel(id));
        }
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
        ContentType::Msgpack => vec![0xc0],
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
pub fn reply_value<T: DeserializeOwned>(reply: RawReply, thing: &str, name: &str) -> Result<T, ClientError> {
    match reply.kind {
        Some(MessageType::Exception) | Some(MessageType::InvalidMessage) => {
            let error = protocol::decode::<ErrorPayload>(&reply.payload, &reply.content_type)
                .map(|p| p.exception)
                .unwrap_or_else(|_| protocol::ErrorObject {
                    message: String::from_utf8_lossy(&reply.payload).into_owned(),
                    kind: "Exception".into(),
                    traceback: Vec::new(),
                    notes: None,
                });
            if reply.kind == Some(MessageType::InvalidMessage) {
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
            let word: String = decode_value(&reply.payload, &reply.content_type).unwrap_or_default();
            Err(ClientError::ServerTimeout {
                thing: thing.into(),
                name: name.into(),
                kind: TimeoutKind::from_wire(&word).unwrap_or(TimeoutKind::Execution),
            })
        }
        _ => {
            // hololinked returns `bytes` in frame 4 with frame 3 `null`.
            if (reply.payload == b"null" || reply.payload == [0xc0]) && !reply.preserialized.is_empty() {
                return T::deserialize(serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(
                    &reply.preserialized,
                ))
                .map_err(|e| ClientError::Codec(format!("could not decode the reply bytes: {e}")));
            }
            decode_value(&reply.payload, &reply.content_type)
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
                    let Some(raw) = frames.first().filter(|f| f.len() >= 2).map(|f| u16::from_ne_bytes([f[0], f[1]]))
                    else {
                        continue;
                    };
                    // The event's value (an error or status code) follows as a u32.
                    let value = frames
                        .first()
                        .and_then(|f| f.get(2..6))
                        .map_or(0, |v| u32::from_ne_bytes([v[0], v[1], v[2], v[3]]));
                    let event = zmq::SocketEvent::from_raw(raw);
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

/// The task that owns a client's socket.
struct ConnectionTask {
    dealer: tmq::dealer::Dealer,
    monitor: Option<mpsc::UnboundedReceiver<(zmq::SocketEvent, u32)>>,
    commands: mpsc::UnboundedReceiver<Command>,
    address: String,
    client_id: String,
    pending: HashMap<String, ReplySender>,
    state: tokio::sync::watch::Sender<ConnectionState>,
    stats: Arc<std::sync::Mutex<ClientStats>>,
    /// The message id of the handshake sent after a reconnection.
    rehandshake: Option<String>,
    counter: u64,
    handshake_failure: HandshakeFailure,
}

impl ConnectionTask {
    async fn run(mut self) {
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Send { message_id, frames, reply }) => self.send(message_id, frames, reply),
                    Some(Command::Cancel(id)) => {
                        self.pending.remove(&id);
                    }
                    None => break,
                },
                incoming = self.dealer.next() => match incoming {
                    Some(Ok(multipart)) => self.reply(multipart.0.into()),
                    Some(Err(e)) => {
                        tracing::warn!(address = %self.address, error = %e, "receiving failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    None => break,
                },
                event = next_monitor_event(&mut self.monitor), if self.monitor.is_some() => match event {
                    Some((event, value)) => self.monitor_event(event, value),
                    None => {
                        tracing::warn!(address = %self.address, "the socket monitor stopped; connection state is no longer tracked");
                        self.monitor = None;
                    }
                },
            }
        }
        let _ = self.state.send(ConnectionState::Closed);
    }

    fn send(&mut self, message_id: String, frames: Vec<Vec<u8>>, reply: Option<ReplySender>) {
        match self.dealer.get_socket().send_multipart(frames, zmq::DONTWAIT) {
            Ok(()) => {
                if let Some(reply) = reply {
                    self.pending.insert(message_id, reply);
                }
                // The first reply proves the connection for INPROC, which has no monitor events.
                if *self.state.borrow() == ConnectionState::Connecting && self.address.starts_with("inproc://") {
                    let _ = self.state.send(ConnectionState::Connected);
                }
            }
            Err(e) => {
                let error = if e == zmq::Error::EAGAIN {
                    ClientError::Disconnected { address: self.address.clone() }
                } else {
                    ClientError::Zmq { context: format!("sending to {}", self.address), message: e.to_string() }
                };
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }

    fn reply(&mut self, frames: Vec<zmq::Message>) {
        let Some((message_id, reply)) = parse_reply(&frames) else {
            tracing::debug!(address = %self.address, frames = frames.len(), "malformed reply ignored");
            return;
        };
        if self.rehandshake.as_deref() == Some(message_id.as_str()) {
            self.rehandshake = None;
            tracing::info!(address = %self.address, server = %reply.sender_id, "reconnected");
            let _ = self.state.send(ConnectionState::Connected);
            return;
        }
        if reply.kind == Some(MessageType::Handshake) && *self.state.borrow() != ConnectionState::Connected {
            let _ = self.state.send(ConnectionState::Connected);
        }
        match self.pending.remove(&message_id) {
            Some(tx) => {
                let _ = tx.send(Ok(reply));
            }
            None => {
                let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                stats.unmatched_replies += 1;
                tracing::debug!(address = %self.address, %message_id, "reply for no pending call ignored");
            }
        }
    }

    fn monitor_event(&mut self, event: zmq::SocketEvent, value: u32) {
        if let Some(why) = handshake_failure_message(event, value) {
            tracing::warn!(address = %self.address, "security handshake failed: {why}");
            *self.handshake_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            return;
        }
        if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED {
            self.handshake_failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        }
        match event {
            zmq::SocketEvent::DISCONNECTED => {
                let failed = self.pending.len() as u64;
                for (_, tx) in self.pending.drain() {
                    let _ = tx.send(Err(ClientError::ConnectionLost { address: self.address.clone() }));
                }
                {
                    let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                    stats.disconnects += 1;
                    stats.failed_by_disconnect += failed;
                }
                tracing::info!(address = %self.address, failed, "connection lost; reconnecting");
                let _ = self.state.send(ConnectionState::Disconnected);
            }
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED if *self.state.borrow() == ConnectionState::Disconnected => {
                {
                    // Reconnected at the transport level: confirm with hololinked's handshake.
                    let _ = self.state.send(ConnectionState::Connecting);
                    self.counter += 1;
                    let message_id = format!("rehandshake-{}", self.counter);
                    let header = OutgoingRequestHeader {
                        message_type: MessageType::Handshake.as_str(),
                        message_id: &message_id,
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
                    let frames = vec![Vec::new(), header, b"null".to_vec(), Vec::new()];
                    if self.dealer.get_socket().send_multipart(frames, zmq::DONTWAIT).is_ok() {
                        self.rehandshake = Some(message_id);
                    }
                }
            }
            _ => {}
        }
    }
}

/// What a failed ZMTP security handshake means for the user, from its monitor event and value.
fn handshake_failure_message(event: zmq::SocketEvent, value: u32) -> Option<String> {
    const MECHANISM_MISMATCH: u32 = 0x1100_0002;
    const CRYPTOGRAPHIC: u32 = 0x1100_0001;
    Some(match event {
        zmq::SocketEvent::HANDSHAKE_FAILED_AUTH => format!(
            "the server refused this client (ZAP status {value}): wrong username or password, a CURVE key it does not \
             list, or an address outside its allow-list; check ConnectOptions::credentials"
        ),
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL if value == MECHANISM_MISMATCH => "the server and this client use \
             different security mechanisms: the server requires credentials (PLAIN or CURVE) that were not given in \
             ConnectOptions::credentials, or it requires none and some were given"
            .to_owned(),
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL if value == CRYPTOGRAPHIC => {
            "the CURVE handshake failed: is the server's public key right?".to_owned()
        }
        zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => format!("the ZMTP handshake failed (protocol error {value:#x})"),
        zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL => {
            format!("the security handshake failed (errno {value}); does the server have a ZAP handler?")
        }
        _ => return None,
    })
}

fn parse_reply(frames: &[zmq::Message]) -> Option<(String, RawReply)> {
    // A DEALER sees [empty, header, payload, preserialized].
    let start = frames.len().checked_sub(3)?;
    let header = ResponseHeader::decode(&frames[start]).ok()?;
    let reply = RawReply {
        kind: header.kind(),
        message_type: header.message_type.clone().into_owned(),
        sender_id: header.sender_id.clone().into_owned(),
        content_type: ContentType::parse(&header.payload_content_type),
        payload: frames[start + 1].to_vec(),
        preserialized: frames[start + 2].to_vec(),
    };
    Some((header.message_id.into_owned(), reply))
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
    socket: tmq::subscribe::Subscribe,
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
        use tmq::FromZmqSocket;
        let fail =
            |message: String| ClientError::Zmq { context: format!("subscribing to {topic} at {address}"), message };
        let socket = context.socket(zmq::SUB).map_err(|e| fail(e.to_string()))?;
        socket.set_linger(0).map_err(|e| fail(e.to_string()))?;
        socket.set_rcvhwm(Self::HIGH_WATER_MARK).map_err(|e| fail(e.to_string()))?;
        credentials.apply(&socket).map_err(fail)?;
        socket.connect(address).map_err(|e| fail(e.to_string()))?;
        let socket = tmq::subscribe::SubscribeWithoutTopic::from_zmq_socket(socket)
            .and_then(|s| s.subscribe(topic.as_bytes()))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            socket,
            topic: topic.to_owned(),
            received: 0,
            missed: 0,
            last: None,
            _data: std::marker::PhantomData,
        })
    }

    /// Events queued in the socket before the oldest are dropped.
    pub const HIGH_WATER_MARK: i32 = 10_000;

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
        if let Some((last_prefix, last)) = &self.last
            && last_prefix == prefix
            && number > last + 1
        {
            self.missed += number - last - 1;
        }
        self.last = Some((prefix.to_owned(), number));
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<EventMessage<T>, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let multipart = match self.socket.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(ClientError::Zmq {
                        context: "receiving an event".into(),
                        message: e.to_string(),
                    })));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            let frames: Vec<zmq::Message> = multipart.0.into();
            // ZeroMQ matches by prefix: `x/status` also receives `x/status_change_event`. Keep exact topics.
            if frames.len() != 5 || &frames[0][..] != self.topic.as_bytes() {
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
            self.note_received(&header.message_id);
            return Poll::Ready(Some(data.map(|data| EventMessage {
                topic: self.topic.clone(),
                message_id: header.message_id.into_owned(),
                data,
                preserialized: frames[4].to_vec(),
            })));
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
    pub async fn read<T: DeserializeOwned>(&self, name: &str) -> Result<T, ClientError> {
        self.client.read_property_with(&self.thing_id, name, &self.options).await
    }

    /// Writes a property.
    pub async fn write<V: Serialize + ?Sized>(&self, name: &str, value: &V) -> Result<(), ClientError> {
        self.client.write_property_with(&self.thing_id, name, value, &self.options).await
    }

    /// Invokes an action whose keyword arguments are already encoded in [`ThingHandle::content_type`].
    pub async fn invoke_encoded<T: DeserializeOwned>(&self, action: &str, payload: Vec<u8>) -> Result<T, ClientError> {
        let request = RawRequest {
            thing_id: &self.thing_id,
            objekt: Some(action),
            operation: op::INVOKE_ACTION,
            payload,
            preserialized: Vec::new(),
        };
        self.client.call(request, &self.options).await
    }

    /// Invokes an action with keyword arguments.
    pub async fn invoke<T: DeserializeOwned, A: Serialize + ?Sized>(
        &self,
        action: &str,
        args: &A,
    ) -> Result<T, ClientError> {
        self.client.invoke_with(&self.thing_id, action, args, &self.options).await
    }

    /// The content type requests are encoded in.
    pub fn content_type(&self) -> &ContentType {
        &self.options.content_type
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
