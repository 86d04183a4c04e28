//! The server: one ROUTER and one PUB socket per transport, serving any number of Things.
//!
//! ```no_run
//! # use thingwire::{Server, Thing};
//! # async fn run(thing: impl Thing) -> Result<(), thingwire::ServerError> {
//! Server::builder("lab")
//!     .thing(thing)
//!     .tcp("0.0.0.0:5555")
//!     .ipc()
//!     .serve() // until ctrl-c
//!     .await
//! # }
//! ```
//!
//! Each transport's socket is owned by one task. It answers `HANDSHAKE` and `get_thing_description` itself,
//! refuses malformed messages with `INVALID_MESSAGE`, and hands operations to the target Thing's
//! scheduler; replies come back to it through a channel and go out addressed to the request's `senderID`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::auth::{Auth, ZapDomain};
use crate::error::{ServerError, ThingError};
use crate::event::Publisher;
use crate::protocol::{self, ContentType, MessageType, RequestHeader, op};
use crate::reply::{Outgoing, ReplyTo};
use crate::scheduler::{self, Op, Request, Runner, Scheduler, SchedulerLimits};
use crate::td;
use crate::thing::Thing;
use crate::transport::{self, BoundAddresses, Incoming, Protocol, ReadLimits, RouterSocket, Transport};

/// Name of the bootstrap action answered by the server itself.
pub const GET_THING_DESCRIPTION: &str = "get_thing_description";

/// A thingwire extension: `invokeaction` of this name with an empty `thingID` lists the Things a server
/// serves (hololinked servers have no such operation).
pub const LIST_THINGS: &str = "list_things";

/// One entry of [`LIST_THINGS`]'s reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThingSummary {
    /// The thing id.
    pub id: String,
    /// The TD title.
    pub title: String,
    /// The TD id.
    pub td_id: String,
}

type ThingFactory = Box<dyn FnOnce(&str, Publisher, SchedulerLimits) -> Arc<dyn Runner> + Send>;

/// Configures and starts a [`Server`].
#[must_use = "a builder does nothing until .serve() or .start() is called"]
pub struct ServerBuilder {
    id: String,
    things: Vec<(String, ThingFactory)>,
    transports: Vec<Transport>,
    context: Option<zmq::Context>,
    allow_remote_exit: bool,
    max_message_size: usize,
    max_frames: usize,
    max_queue: usize,
    max_in_flight: usize,
    max_subscribers: usize,
    event_hwm: i32,
    shutdown_grace: Duration,
    observe_interval: Option<Duration>,
    auth: Option<Auth>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("id", &self.id)
            .field("things", &self.things.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .field("transports", &self.transports)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            things: Vec::new(),
            transports: Vec::new(),
            context: None,
            allow_remote_exit: false,
            max_message_size: 64 << 20,
            max_frames: 16,
            max_queue: 4096,
            max_in_flight: 256,
            max_subscribers: 1024,
            event_hwm: 10_000,
            shutdown_grace: Duration::from_secs(5),
            observe_interval: None,
            auth: None,
        }
    }

    /// Serves `thing` (under its [`Thing::thing_id`]).
    pub fn thing<T: Thing>(mut self, thing: T) -> Self {
        let id = thing.thing_id().to_owned();
        let factory: ThingFactory = Box::new(move |server_id, publisher, limits| {
            let runner: Arc<dyn Runner> = Scheduler::start(thing, server_id, publisher, limits);
            runner
        });
        self.things.push((id, factory));
        self
    }

    /// Listens on TCP at `address` (`host:port` or `tcp://host:port`; port 0 picks a free port). Events are
    /// published on port + 1, as hololinked does.
    pub fn tcp(mut self, address: impl Into<String>) -> Self {
        self.transports.push(Transport::Tcp(address.into()));
        self
    }

    /// Listens on IPC where hololinked clients look for this server id (`~/.hololinked/sockets`).
    pub fn ipc(mut self) -> Self {
        self.transports.push(Transport::Ipc(None));
        self
    }

    /// Listens on IPC with the socket files in `dir` (hololinked's `TEMP_DIR/sockets`).
    pub fn ipc_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.transports.push(Transport::Ipc(Some(dir.into())));
        self
    }

    /// Listens in-process (`inproc://<id>`), for clients in the same process and ZeroMQ context.
    pub fn inproc(mut self) -> Self {
        self.transports.push(Transport::Inproc);
        self
    }

    /// Uses `context` instead of the process-wide [`transport::context`].
    pub fn context(mut self, context: zmq::Context) -> Self {
        self.context = Some(context);
        self
    }

    /// Lets a client stop the server with an `EXIT` message. Off by default: hololinked accepts EXIT from
    /// anyone, with no authentication.
    pub fn allow_remote_exit(mut self, allow: bool) -> Self {
        self.allow_remote_exit = allow;
        self
    }

    /// Largest accepted message (all frames together); larger ones get `INVALID_MESSAGE`. Default 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1024);
        self
    }

    /// Most frames a message may have; a message with more gets `INVALID_MESSAGE`. Its frames past the limit
    /// (or past [`max_message_size`](Self::max_message_size)) are dropped as they are read, so the server
    /// never holds them (libzmq itself receives a whole message before it hands over the first frame).
    /// Default 16, at least 5 (a hololinked message has 5).
    pub fn max_frames(mut self, frames: usize) -> Self {
        self.max_frames = frames.max(protocol::FRAME_COUNT);
        self
    }

    /// Most requests that may be in one Thing's queue, the running one included; the excess gets an
    /// `EXCEPTION` saying the server is busy. Default 4096.
    pub fn max_queue_length(mut self, requests: usize) -> Self {
        self.max_queue = requests.max(1);
        self
    }

    /// Most requests one client (one routing id, on one transport) may have in flight: admitted to a Thing
    /// and not yet answered — queued, running, concurrent and threaded alike. The excess gets an `EXCEPTION`
    /// (`RuntimeError`) at once; a slot is given back when the request's reply (or `TIMEOUT`) is sent, or,
    /// for a oneway request, when the server is done with it. Default 256.
    pub fn max_in_flight_per_client(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Most event subscribers per TCP or IPC transport: a connection to the event socket beyond the limit
    /// fails its ZeroMQ handshake (ZAP status 400, "subscriber limit reached"; libzmq does not retry it, and
    /// `Client::subscribe` fails with `ClientError::Unauthorized`), and a slot comes back when a subscriber
    /// disconnects. thingwire's ZAP handler decides, so when another
    /// library's ZAP handler is bound in the context (and no [`authentication`](Self::authentication) is
    /// set) the limit is not enforced and a warning says so. INPROC subscribers have no handshake and are
    /// not limited. Default 1024.
    pub fn max_subscribers(mut self, subscribers: usize) -> Self {
        self.max_subscribers = subscribers.max(1);
        self
    }

    /// The PUB sockets' send high-water mark (messages queued per subscriber). At the mark libzmq drops
    /// further events for that subscriber until it catches up; the server never blocks. Default 10 000.
    pub fn event_high_water_mark(mut self, messages: i32) -> Self {
        self.event_hwm = messages.max(1);
        self
    }

    /// Also checks observable properties every `interval` (when the Thing is idle) and publishes the ones
    /// that changed without a request — a temperature a background loop updates, a position a motion task
    /// moves. Without it, as in hololinked, changes are published after reads, writes and queued actions
    /// only. Off by default, since a getter may talk to hardware.
    pub fn observe_interval(mut self, interval: Duration) -> Self {
        self.observe_interval = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Requires every TCP peer (requests and event subscriptions) to pass `auth` — PLAIN credentials, CURVE
    /// keys and/or an IP allow-list — before libzmq lets a single message through; the TD's
    /// `securityDefinitions` say so. IPC and INPROC are not authenticated (IPC is guarded by the socket
    /// files' permissions). See [`crate::auth`] and `docs/security.md`.
    ///
    /// ```no_run
    /// # use thingwire::{Server, Thing, auth::Auth};
    /// # async fn run(thing: impl Thing) -> Result<(), thingwire::ServerError> {
    /// Server::builder("lab")
    ///     .thing(thing)
    ///     .tcp("0.0.0.0:5555")
    ///     .authentication(Auth::plain([("alice", "secret")]).allow_ips(["127.0.0.1", "10.1.0.0/16"]))
    ///     .serve()
    ///     .await
    /// # }
    /// ```
    pub fn authentication(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// How long shutdown waits for running operations before closing the sockets. Default 5 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Binds every transport and starts serving; returns a handle to stop it.
    pub async fn start(self) -> Result<Server, ServerError> {
        validate_id(&self.id)?;
        if self.transports.is_empty() {
            return Err(ServerError::NoTransport);
        }
        let mut seen = std::collections::HashSet::new();
        for (id, _) in &self.things {
            validate_id(id)?;
            if !seen.insert(id.clone()) {
                return Err(ServerError::DuplicateThing(id.clone()));
            }
        }
        let context = self.context.clone().unwrap_or_else(|| transport::context().clone());
        let zap = match &self.auth {
            Some(auth) => {
                if !self.transports.iter().any(|t| matches!(t, Transport::Tcp(_))) {
                    tracing::warn!(server = %self.id, "authentication applies to TCP only, and this server has no TCP transport");
                }
                Some(ZapDomain::register(&context, &self.id, auth)?)
            }
            None => None,
        };
        let mut bound = Vec::new();
        let mut pubs = Vec::new();
        let mut gates = Vec::new();
        let mut cleanup = Vec::new();
        for t in &self.transports {
            let b = bind_transport(&context, &self.id, t, &self, zap.as_ref(), &mut cleanup)?;
            pubs.push(b.publisher);
            gates.extend(b.gate);
            bound.push((b.router, b.addresses));
        }
        let publisher = Publisher::new(&self.id, pubs);
        let limits = SchedulerLimits { max_queue: self.max_queue, observe_interval: self.observe_interval };
        let things: HashMap<String, Arc<dyn Runner>> =
            self.things.into_iter().map(|(id, make)| (id, make(&self.id, publisher.clone(), limits))).collect();
        // hololinked's client addresses a Thing by its TD `id`, which is the Thing's URN.
        let aliases = things.keys().map(|id| (td::thing_urn(&self.id, id), id.clone())).collect();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            id: Arc::from(self.id.as_str()),
            things,
            aliases,
            addresses: bound.iter().map(|(_, a)| a.clone()).collect(),
            allow_remote_exit: self.allow_remote_exit,
            max_message_size: self.max_message_size,
            max_frames: self.max_frames,
            max_in_flight: self.max_in_flight,
            shutdown: shutdown_tx,
            security: self.auth.as_ref().map(Auth::td_scheme),
            _zap: zap,
            _event_gates: gates,
        });
        let mut tasks = Vec::new();
        for (router, addresses) in bound {
            let shared = Arc::clone(&shared);
            let rx = shutdown_rx.clone();
            let grace = self.shutdown_grace;
            tasks.push(tokio::spawn(socket_loop(router, addresses.protocol, shared, rx, grace)));
        }
        for a in &shared.addresses {
            tracing::info!(server = %shared.id, requests = %a.requests, events = %a.events, "serving");
        }
        Ok(Server { shared, publisher, tasks, cleanup, grace: self.shutdown_grace })
    }

    /// Starts the server and serves until ctrl-c (SIGINT) or SIGTERM, then shuts down gracefully.
    pub async fn serve(self) -> Result<(), ServerError> {
        self.start().await?.run_until_signal().await;
        Ok(())
    }
}

fn validate_id(id: &str) -> Result<(), ServerError> {
    let reason = if id.is_empty() {
        "ids must not be empty"
    } else if id.len() > 255 {
        "ids must be at most 255 bytes (a ZeroMQ routing id)"
    } else if id.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        "ids must not contain spaces, control characters or `/` (the event topic separator)"
    } else {
        return Ok(());
    };
    Err(ServerError::InvalidId { id: id.to_owned(), reason })
}

struct BoundTransport {
    router: RouterSocket,
    publisher: zmq::Socket,
    addresses: BoundAddresses,
    /// The event socket's ZAP domain (its subscriber limit, and `auth` on TCP).
    gate: Option<ZapDomain>,
}

fn zmq_err(context: &'static str) -> impl FnOnce(zmq::Error) -> ServerError {
    move |source| ServerError::Zmq { context, source }
}

fn new_router(ctx: &zmq::Context, server_id: &str, builder: &ServerBuilder) -> Result<zmq::Socket, ServerError> {
    let socket = ctx.socket(zmq::ROUTER).map_err(zmq_err("creating the ROUTER socket"))?;
    socket.set_identity(server_id.as_bytes()).map_err(zmq_err("setting the routing id"))?;
    socket.set_router_mandatory(true).map_err(zmq_err("setting ROUTER_MANDATORY"))?;
    socket.set_linger(1000).map_err(zmq_err("setting LINGER"))?;
    // A hard cap far above the soft limit: only absurd frames make libzmq drop the connection.
    let hard = (builder.max_message_size as i64).saturating_mul(4);
    socket.set_maxmsgsize(hard).map_err(zmq_err("setting MAXMSGSIZE"))?;
    socket.set_rcvhwm(100_000).map_err(zmq_err("setting RCVHWM"))?;
    socket.set_sndhwm(100_000).map_err(zmq_err("setting SNDHWM"))?;
    Ok(socket)
}

fn new_pub(ctx: &zmq::Context, server_id: &str, builder: &ServerBuilder) -> Result<zmq::Socket, ServerError> {
    let socket = ctx.socket(zmq::PUB).map_err(zmq_err("creating the PUB socket"))?;
    socket
        .set_identity(format!("{server_id}/event-publisher").as_bytes())
        .map_err(zmq_err("setting the publisher id"))?;
    socket.set_sndhwm(builder.event_hwm).map_err(zmq_err("setting SNDHWM"))?;
    socket.set_linger(0).map_err(zmq_err("setting LINGER"))?;
    Ok(socket)
}

fn bind_err(what: &'static str, address: &str, source: zmq::Error, hint: &str) -> ServerError {
    let hint = if source == zmq::Error::EADDRINUSE && !hint.is_empty() { format!("; {hint}") } else { String::new() };
    ServerError::Bind { what, address: address.to_owned(), source, hint }
}

fn bind_transport(
    ctx: &zmq::Context,
    server_id: &str,
    t: &Transport,
    builder: &ServerBuilder,
    zap: Option<&ZapDomain>,
    cleanup: &mut Vec<PathBuf>,
) -> Result<BoundTransport, ServerError> {
    let (router, publisher, addresses, gate) = match t {
        Transport::Tcp(address) => {
            let (host, port) = transport::parse_tcp(address)?;
            let href_host = transport::href_host(&host);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let router = new_router(ctx, server_id, builder)?;
                let publisher = new_pub(ctx, server_id, builder)?;
                if let Some(zap) = zap {
                    zap.apply(&router)?;
                }
                let gate = event_gate(ctx, server_id, builder.auth.as_ref(), &publisher, builder)?;
                let req_addr = if port == 0 { format!("tcp://{host}:*") } else { format!("tcp://{host}:{port}") };
                router.bind(&req_addr).map_err(|e| {
                    bind_err(
                        "the request socket",
                        &req_addr,
                        e,
                        "another process uses this port; stop it or choose another port",
                    )
                })?;
                let real_port = bound_port(&router)?;
                let ev_addr = format!("tcp://{host}:{}", real_port + 1);
                match publisher.bind(&ev_addr) {
                    Ok(()) => {
                        let requests = format!("tcp://{host}:{real_port}");
                        let addresses = BoundAddresses {
                            protocol: Protocol::Tcp,
                            request_href: format!("tcp://{href_host}:{real_port}"),
                            event_href: format!("tcp://{href_host}:{}", real_port + 1),
                            requests,
                            events: ev_addr,
                        };
                        break (router, publisher, addresses, gate);
                    }
                    Err(e) if port == 0 && attempt < 20 => {
                        tracing::debug!(error = %e, "event port after a free request port is taken, trying another");
                        continue;
                    }
                    Err(e) => {
                        return Err(bind_err(
                            "the event socket",
                            &ev_addr,
                            e,
                            "events use request port + 1 (as hololinked does): free that port or choose another request port",
                        ));
                    }
                }
            }
        }
        Transport::Ipc(dir) => {
            let dir = dir.clone().unwrap_or_else(transport::default_ipc_dir);
            std::fs::create_dir_all(&dir)
                .map_err(|source| ServerError::IpcDir { path: dir.display().to_string(), source })?;
            let (req_path, ev_path) = transport::ipc_paths(&dir, server_id);
            for path in [&req_path, &ev_path] {
                if path.exists() {
                    if transport::ipc_in_use(path) {
                        return Err(ServerError::Address {
                            address: format!("ipc://{}", path.display()),
                            reason: format!(
                                "another server is serving id `{server_id}` there; stop it or give this server another id"
                            ),
                        });
                    }
                    tracing::info!(path = %path.display(), "removing an IPC socket file left over from an earlier run");
                    let _ = std::fs::remove_file(path);
                }
            }
            let router = new_router(ctx, server_id, builder)?;
            let publisher = new_pub(ctx, server_id, builder)?;
            // IPC is not authenticated (the socket files' permissions guard it); only the limit applies.
            let gate = event_gate(ctx, server_id, None, &publisher, builder)?;
            let requests = format!("ipc://{}", req_path.display());
            let events = format!("ipc://{}", ev_path.display());
            router.bind(&requests).map_err(|e| bind_err("the request socket", &requests, e, ""))?;
            cleanup.push(req_path);
            publisher.bind(&events).map_err(|e| bind_err("the event socket", &events, e, ""))?;
            cleanup.push(ev_path);
            let addresses = BoundAddresses {
                protocol: Protocol::Ipc,
                request_href: requests.clone(),
                event_href: events.clone(),
                requests,
                events,
            };
            (router, publisher, addresses, gate)
        }
        Transport::Inproc => {
            let router = new_router(ctx, server_id, builder)?;
            let publisher = new_pub(ctx, server_id, builder)?;
            let requests = format!("inproc://{server_id}");
            let events = format!("inproc://{server_id}/event-publisher");
            router.bind(&requests).map_err(|e| {
                bind_err("the request socket", &requests, e, "another server in this process uses this id")
            })?;
            publisher.bind(&events).map_err(|e| bind_err("the event socket", &events, e, ""))?;
            let addresses = BoundAddresses {
                protocol: Protocol::Inproc,
                request_href: requests.clone(),
                event_href: events.clone(),
                requests,
                events,
            };
            // INPROC connections have no handshake to refuse: no subscriber limit.
            (router, publisher, addresses, None)
        }
    };
    let router = RouterSocket::new(router)?;
    Ok(BoundTransport { router, publisher, addresses, gate })
}

/// Registers an event socket's ZAP domain: the subscriber limit, plus `auth` (TCP only).
fn event_gate(
    ctx: &zmq::Context,
    server_id: &str,
    auth: Option<&Auth>,
    publisher: &zmq::Socket,
    builder: &ServerBuilder,
) -> Result<Option<ZapDomain>, ServerError> {
    let gate = ZapDomain::register_events(ctx, server_id, auth, publisher, builder.max_subscribers)?;
    if let Some(gate) = &gate {
        gate.apply(publisher)?;
    }
    Ok(gate)
}

fn bound_port(socket: &zmq::Socket) -> Result<u16, ServerError> {
    let endpoint = socket.get_last_endpoint().map_err(zmq_err("reading the bound address"))?.unwrap_or_default();
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or(ServerError::Zmq { context: "reading the bound port", source: zmq::Error::EINVAL })
}

struct Shared {
    id: Arc<str>,
    things: HashMap<String, Arc<dyn Runner>>,
    /// TD ids (URNs) → thing ids.
    aliases: HashMap<String, String>,
    addresses: Vec<BoundAddresses>,
    allow_remote_exit: bool,
    max_message_size: usize,
    max_frames: usize,
    max_in_flight: usize,
    shutdown: watch::Sender<bool>,
    /// What the TCP transport requires, for TDs.
    security: Option<td::SecurityScheme>,
    /// Keeps the server's ZAP rules registered while its sockets live.
    _zap: Option<ZapDomain>,
    /// The same for the event sockets (subscriber limits).
    _event_gates: Vec<ZapDomain>,
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    shared: Arc<Shared>,
    publisher: Publisher,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    cleanup: Vec<PathBuf>,
    grace: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("id", &self.shared.id).field("addresses", &self.shared.addresses).finish()
    }
}

impl Server {
    /// Starts configuring a server whose ZeroMQ routing id is `id` (hololinked clients address it by this id).
    pub fn builder(id: impl Into<String>) -> ServerBuilder {
        ServerBuilder::new(id)
    }

    /// The server id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The bound addresses, one entry per transport.
    pub fn addresses(&self) -> &[BoundAddresses] {
        &self.shared.addresses
    }

    /// The request address of the first transport of `protocol`.
    pub fn address(&self, protocol: Protocol) -> Option<&str> {
        self.shared.addresses.iter().find(|a| a.protocol == protocol).map(|a| a.requests.as_str())
    }

    /// The ids of the Things served.
    pub fn thing_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.shared.things.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// The event publisher (how many events were sent, or to publish on a Thing's behalf).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Serves until ctrl-c (SIGINT), SIGTERM or a permitted remote EXIT, then shuts down gracefully. Use it
    /// after [`ServerBuilder::start`] when there is work to do between starting and serving (printing the
    /// bound addresses, binding extra event handles…).
    pub async fn run_until_signal(self) {
        let mut stopped = self.shared.shutdown.subscribe();
        let signal = async {
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        tokio::select! {
            _ = signal => tracing::info!(server = %self.shared.id, "signal received, shutting down"),
            _ = wait_true(&mut stopped) => tracing::info!(server = %self.shared.id, "stopped by remote EXIT"),
        }
        self.shutdown().await;
    }

    /// Resolves once the server has been asked to stop (by [`Server::shutdown`] or a permitted remote EXIT).
    pub async fn stopped(&self) {
        wait_true(&mut self.shared.shutdown.subscribe()).await;
    }

    /// Stops gracefully: no new requests are read; requests still waiting in a queue are answered with an
    /// `EXCEPTION`; running operations get up to the grace period to finish and answer; then the sockets
    /// close and the IPC socket files are removed.
    pub async fn shutdown(self) {
        let _ = self.shared.shutdown.send(true);
        for runner in self.shared.things.values() {
            runner.close();
        }
        let deadline = tokio::time::Instant::now() + self.grace;
        for runner in self.shared.things.values() {
            let mut done = runner.finished();
            let _ = tokio::time::timeout_at(deadline, done.wait_for(|d| *d)).await;
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.publisher.close();
        for path in &self.cleanup {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!(server = %self.shared.id, "stopped");
    }
}

/// The maps on the request path hash with foldhash: several lookups per request, where SipHash cost a thousand
/// instructions. Its seed is random per process, so routing ids (which clients choose) cannot be crafted to
/// collide in advance.
type HashMap<K, V> = foldhash::HashMap<K, V>;

/// The task that owns one transport's ROUTER socket.
async fn socket_loop(
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

fn handle_message(
    incoming: Incoming,
    protocol: Protocol,
    shared: &Arc<Shared>,
    tx: &mpsc::UnboundedSender<Outgoing>,
    in_flight: &mut InFlight,
) {
    let Incoming { mut frames, count, bytes } = incoming;
    // A message refused before its header is trusted is answered to the routing id of the socket that sent
    // it, byte for byte: the peer cannot forge it, and it need not be UTF-8.
    let invalid_to_peer = |frames: &[zmq::Message], message_id: String, message: String| {
        let peer = frames.first().map_or(&[][..], |f| &f[..]);
        let mut reply = ReplyTo::new(
            tx.clone(),
            Arc::clone(&shared.id),
            String::from_utf8_lossy(peer).into_owned(),
            message_id,
            false,
        );
        reply.route = Some(peer.to_vec());
        tracing::debug!(%message, "invalid message");
        reply.error(MessageType::InvalidMessage, &ThingError::value_error(message), "message border", None);
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
    if count < 3 {
        return invalid_to_peer(&frames, String::new(), count_message(count));
    }
    let header = match RequestHeader::decode(&frames[2]) {
        Ok(h) => h,
        Err(e) => {
            // The identity frame is the real peer; a salvaged senderID may be anything.
            return invalid_to_peer(&frames, salvaged_id(&frames), format!("{e}"));
        }
    };
    let mut reply = ReplyTo::new(
        tx.clone(),
        Arc::clone(&shared.id),
        header.sender_id.clone().into_owned(),
        header.message_id.clone().into_owned(),
        header.server_execution_context.oneway,
    );
    let invalid = |reply: ReplyTo, message: String| {
        tracing::debug!(%message, "invalid message");
        reply.error(MessageType::InvalidMessage, &ThingError::value_error(message), "message border", None);
    };
    match header.kind() {
        MessageType::Handshake => return reply.handshake(),
        MessageType::Exit => {
            if shared.allow_remote_exit {
                tracing::info!(client = %header.sender_id, "remote EXIT accepted");
                let _ = shared.shutdown.send(true);
            } else {
                let e = ThingError::new(
                    "PermissionError",
                    "remote EXIT is disabled on this server; stop it locally, or enable it with ServerBuilder::allow_remote_exit(true)",
                );
                reply.error(MessageType::Exception, &e, "message border", None);
            }
            return;
        }
        _ => {}
    }
    if count != protocol::FRAME_COUNT {
        return invalid(reply, count_message(count));
    }
    if header.thing_id.is_empty()
        && header.objekt.as_deref() == Some(LIST_THINGS)
        && &*header.operation == op::INVOKE_ACTION
    {
        return list_things(shared, &reply, &header.content_type());
    }
    let found = shared
        .things
        .get(&*header.thing_id)
        .or_else(|| shared.aliases.get(&*header.thing_id).and_then(|id| shared.things.get(id)));
    let Some(runner) = found else {
        let mut ids: Vec<&str> = shared.things.keys().map(String::as_str).collect();
        ids.sort_unstable();
        let message = match crate::suggest::closest(&header.thing_id, ids.iter().copied()) {
            Some(s) => format!("no thing with id `{}` on server `{}`, did you mean `{s}`?", header.thing_id, shared.id),
            None => format!("no thing with id `{}` on server `{}`; it serves {:?}", header.thing_id, shared.id, ids),
        };
        return invalid(reply, message);
    };
    let content_type = header.content_type();
    let objekt = header.objekt.as_deref();
    let operation = &*header.operation;
    let span = tracing::debug_span!(
        "request",
        thing = %header.thing_id,
        name = objekt.unwrap_or(""),
        operation,
        message_id = %header.message_id,
    );
    let _entered = span.enter();
    let descriptor = runner.descriptor();
    let name = objekt.unwrap_or("").to_owned();
    let origin = || format!("thing `{}`, {operation} `{name}`", header.thing_id);
    let resolved: Result<Op, ThingError> = match operation {
        op::READ_PROPERTY => scheduler::check_property(descriptor, &header.thing_id, &name).map(Op::ReadProperty),
        op::WRITE_PROPERTY => scheduler::check_property(descriptor, &header.thing_id, &name).and_then(|index| {
            if descriptor.properties[index].read_only {
                Err(ThingError::attribute_error(format!("property `{name}` of `{}` is read-only", header.thing_id)))
            } else {
                Ok(Op::WriteProperty)
            }
        }),
        op::READ_MULTIPLE_PROPERTIES => {
            let names: Vec<String> = name.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            names
                .iter()
                .try_for_each(|n| scheduler::check_property(descriptor, &header.thing_id, n).map(|_| ()))
                .map(|_| Op::ReadMultiple(names))
        }
        op::READ_ALL_PROPERTIES => Ok(Op::ReadAll),
        op::WRITE_MULTIPLE_PROPERTIES | op::WRITE_ALL_PROPERTIES => Ok(Op::WriteMultiple),
        op::INVOKE_ACTION => match name.as_str() {
            GET_THING_DESCRIPTION => {
                let result = thing_description_reply(shared, protocol, runner.as_ref(), &frames, &content_type);
                match result {
                    Ok(out) => reply.output(&content_type, out),
                    Err(e) => reply.error(MessageType::Exception, &e, &origin(), None),
                }
                return;
            }
            "_get_properties" => Ok(Op::GetProperties),
            "_set_properties" => Ok(Op::WriteMultiple),
            _ => match descriptor.action(&name) {
                Some(action) => Ok(Op::Invoke(action)),
                None if name == td::PING => Ok(Op::Ping),
                None if name == td::GET_THING_MODEL => {
                    let model = td::ThingDescription::new(descriptor, &shared.id, runner.thing_id()).to_thing_model();
                    match crate::thing::Output::value(&model, &content_type) {
                        Ok(out) => reply.output(&content_type, out),
                        Err(e) => reply.error(MessageType::Exception, &e, &origin(), None),
                    }
                    return;
                }
                None => Err(ThingError::key_error(scheduler::unknown_name(
                    "action",
                    &name,
                    &header.thing_id,
                    descriptor.actions.iter().map(|a| a.name).chain([td::PING, td::GET_THING_MODEL]),
                ))),
            },
        },
        op::DELETE_PROPERTY => {
            Err(ThingError::not_implemented("deleteproperty is not supported: properties cannot be deleted"))
        }
        op::OBSERVE_PROPERTY | op::SUBSCRIBE_EVENT | op::UNSUBSCRIBE_EVENT => Err(ThingError::not_implemented(
            format!("`{operation}` is not a request: subscribe to the event publisher at the form's href instead"),
        )),
        other => Err(ThingError::not_implemented(format!(
            "unknown operation `{other}`; expected readproperty, writeproperty, invokeaction, readmultipleproperties, readallproperties or writemultipleproperties"
        ))),
    };
    let op = match resolved {
        Ok(op) => op,
        Err(e) => return reply.error(MessageType::Exception, &e, &origin(), None),
    };
    if let Err(n) = in_flight.admit(&frames[0]) {
        let e = ThingError::runtime(format!(
            "client `{}` has {n} requests in flight (limit {}): wait for their replies before sending more",
            String::from_utf8_lossy(&frames[0]),
            in_flight.limit
        ));
        return reply.error(MessageType::Exception, &e, &origin(), None);
    }
    let ctx = header.server_execution_context;
    let fetch_logs = header.thing_execution_context.fetch_execution_logs;
    drop(_entered);
    drop(header);
    // The routing id moves into the slot; nothing reads frame 0 after this.
    reply.hold_slot(std::mem::replace(&mut frames[0], zmq::Message::new()));
    let request = Request { frames, op, name, content_type, ctx, fetch_logs, reply, span, state: None, timer: None };
    Arc::clone(runner).submit(request);
}

fn list_things(shared: &Shared, reply: &ReplyTo, content_type: &ContentType) {
    let mut things: Vec<ThingSummary> = shared
        .things
        .values()
        .map(|r| ThingSummary {
            id: r.thing_id().to_owned(),
            title: r.descriptor().title.to_owned(),
            td_id: td::thing_urn(&shared.id, r.thing_id()),
        })
        .collect();
    things.sort_by(|a, b| a.id.cmp(&b.id));
    match crate::thing::Output::value(&things, content_type) {
        Ok(out) => reply.output(content_type, out),
        Err(e) => reply.error(MessageType::Exception, &e, "list_things", None),
    }
}

/// Resolves once the flag is `true` (or its sender is gone).
async fn wait_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.is_ok();
}

fn count_message(n: usize) -> String {
    format!("message length 5 does not match the number of message parts {n}")
}

fn thing_description_reply(
    shared: &Shared,
    protocol: Protocol,
    runner: &dyn Runner,
    frames: &[zmq::Message],
    content_type: &ContentType,
) -> Result<crate::thing::Output, ThingError> {
    let (protocol_arg, ignore_errors, skip_names) =
        crate::args::ArgSlots::<(Option<String>, Option<bool>, Option<Vec<String>>)>::new(&[
            "protocol",
            "ignore_errors",
            "skip_names",
        ])
        .decode(crate::thing::Args { payload: &frames[3], content_type, preserialized: &frames[4] })?;
    let _ = ignore_errors;
    let wanted = match protocol_arg.flatten() {
        Some(p) => Protocol::parse(&p)
            .ok_or_else(|| ThingError::value_error(format!("unknown protocol `{p}`; expected TCP, IPC or INPROC")))?,
        None => protocol,
    };
    let addresses = shared.addresses.iter().find(|a| a.protocol == wanted).ok_or_else(|| {
        let served: Vec<&str> = shared.addresses.iter().map(|a| a.protocol.as_str()).collect();
        ThingError::value_error(format!(
            "server `{}` does not serve {}; it serves {}",
            shared.id,
            wanted.as_str(),
            served.join(", ")
        ))
    })?;
    let skip = skip_names.flatten().unwrap_or_default();
    let mut td = td::ThingDescription::new(runner.descriptor(), &shared.id, runner.thing_id()).served_on(addresses);
    if let Some(scheme) = &shared.security {
        td = td.secured_by(scheme);
    }
    let td = td.skip(&skip).to_json();
    crate::thing::Output::value(&td, content_type)
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
