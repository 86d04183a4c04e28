//! The server: the serving core with its Things, and the bindings that carry it.
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
//! [`ServerBuilder::start`] binds every binding's addresses, starts one scheduler per Thing, and starts the
//! bindings' tasks; every request, whatever binding it comes through, is resolved and scheduled by the one
//! [`Core`]. The ZeroMQ binding's settings (`tcp`, `ipc`, `inproc`, `authentication`, …) are on the builder
//! too, in [`crate::binding::zmq`].

#[cfg(feature = "http")]
mod register;

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::binding::memory::MemoryBinding;
use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::scheduler::{Runner, Scheduler, SchedulerLimits};
use crate::core::{Core, ServerStats};
use crate::error::ServerError;
use crate::event::Publisher;
use crate::persist::worker::{self, StoreHandle};
use crate::persist::{PersistWarning, Storage};
pub use crate::protocol::names::{GET_THING_DESCRIPTION, LIST_THINGS, ThingSummary};
use crate::thing::Thing;
use crate::transport::{BoundAddresses, Protocol};

/// Starts one Thing's scheduler, restoring its persisted properties from the store first.
type ThingFactory = Box<
    dyn FnOnce(
            String,
            Publisher,
            SchedulerLimits,
            Option<StoreHandle>,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Arc<dyn Runner>> + Send>>
        + Send,
>;

/// Configures and starts a [`Server`].
#[must_use = "a builder does nothing until .serve() or .start() is called"]
pub struct ServerBuilder {
    id: String,
    things: Vec<(String, ThingFactory)>,
    bindings: Vec<Box<dyn BindingSpec>>,
    limits: SchedulerLimits,
    shutdown_grace: Duration,
    failure_log: Option<tracing::Level>,
    storage: Option<Storage>,
    backends: Vec<crate::remote::Backend>,
    /// The Thing directories to register with, and the registrations' time to live.
    #[cfg(feature = "http")]
    directories: (Vec<String>, Duration),
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("id", &self.id)
            .field("things", &self.things.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            things: Vec::new(),
            bindings: Vec::new(),
            limits: SchedulerLimits { max_queue: 4096, ..SchedulerLimits::default() },
            shutdown_grace: Duration::from_secs(5),
            failure_log: Some(tracing::Level::WARN),
            storage: None,
            backends: Vec::new(),
            #[cfg(feature = "http")]
            directories: (Vec::new(), Duration::from_secs(60)),
        }
    }

    /// The settings of binding `B`, added with its defaults on first use.
    pub(crate) fn binding_mut<B: BindingSpec + Default>(&mut self) -> &mut B {
        let index = match self.bindings.iter_mut().position(|b| b.as_any_mut().is::<B>()) {
            Some(index) => index,
            None => {
                self.bindings.push(Box::new(B::default()));
                self.bindings.len() - 1
            }
        };
        match self.bindings[index].as_any_mut().downcast_mut::<B>() {
            Some(binding) => binding,
            None => unreachable!("the binding at {index} was checked to be a `{}`", std::any::type_name::<B>()),
        }
    }

    /// Serves `thing` (under its [`Thing::thing_id`]).
    pub fn thing<T: Thing>(mut self, thing: T) -> Self {
        let id = thing.thing_id().to_owned();
        let factory: ThingFactory = Box::new(move |server_id, publisher, limits, store| {
            Box::pin(async move {
                let mut thing = thing;
                let store = worker::restore(&mut thing, store.as_ref()).await;
                let runner: Arc<dyn Runner> = Scheduler::start(thing, &server_id, publisher, limits, store);
                runner
            })
        });
        self.things.push((id, factory));
        self
    }

    /// Serves the Things of another server — thingwire or hololinked 0.4 — through this server's bindings: a
    /// gateway (see [`crate::remote`]). The backend is connected to when the server starts, and must be up
    /// then unless it is [`optional`](crate::remote::Backend::optional).
    pub fn backend(mut self, backend: crate::remote::Backend) -> Self {
        self.backends.push(backend);
        self
    }

    /// Keeps the values of persisted properties (`#[property(persist)]`, `persist = "init"`,
    /// `persist = "commit"`) in `storage`: restored when the server starts, stored durably before a write is
    /// answered. Without it, persisted properties behave as plain ones (and the server logs a warning). See
    /// [`crate::persist`].
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Also serves in memory: requests from [`Server::memory`] need no socket. A server may have only this
    /// binding (a test's, say); [`Server::memory`] works on every server either way.
    pub fn in_memory(mut self) -> Self {
        self.binding_mut::<crate::binding::memory::Spec>();
        self
    }

    /// Most requests that may be in one Thing's queue, the running one included; the excess gets an
    /// `EXCEPTION` saying the server is busy. Default 4096.
    pub fn max_queue_length(mut self, requests: usize) -> Self {
        self.limits.max_queue = requests.max(1);
        self
    }

    /// The invocation timeout of requests that carry none, for actions that declare none: how long they may
    /// wait in a Thing's queue before they start. Default none (wait as long as it takes). A request's own
    /// value (hololinked's clients send 5 s) and an action's declared `invocation_timeout` override it; when
    /// both are set, the shorter applies.
    pub fn default_invocation_timeout(mut self, timeout: Duration) -> Self {
        self.limits.invocation_timeout = Some(timeout);
        self
    }

    /// The execution timeout of requests that carry none, for actions that declare none: how long they may
    /// run (and wait for the Thing's lock) once started; at the deadline the client gets
    /// `TIMEOUT "execution"`. Default none. Overridden like
    /// [`default_invocation_timeout`](Self::default_invocation_timeout). With a default in force, every
    /// operation that runs the Thing's own blocking code (a plain `fn` action, a computed property) runs on a
    /// blocking worker thread, so that its timeout is answered at the deadline: see the guide's section on
    /// timeouts.
    pub fn default_execution_timeout(mut self, timeout: Duration) -> Self {
        self.limits.execution_timeout = Some(timeout);
        self
    }

    /// Also checks observable properties every `interval` (when the Thing is idle) and publishes the ones
    /// that changed without a request — a temperature a background loop updates, a position a motion task
    /// moves. Without it, as in hololinked, changes are published after reads, writes and queued actions
    /// only. Off by default, since a getter may talk to hardware.
    pub fn observe_interval(mut self, interval: Duration) -> Self {
        self.limits.observe_interval = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Logs every failed operation — refused, failed in the Thing's code, or timed out — as a `tracing`
    /// event at `level` with the target `thingwire::failures` and the fields `thing`, `name`, `operation`,
    /// `client` and `error_type`, for a lab's alerting; `None` turns it off. Default `WARN`.
    pub fn failure_log(mut self, level: Option<tracing::Level>) -> Self {
        self.failure_log = level;
        self
    }

    /// How long shutdown waits for running operations before closing the sockets. Default 5 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Registers the server's Things with the W3C WoT Thing Description Directory at `url` (its base, e.g.
    /// `http://lab-gateway:8080`; a thingwire server with
    /// [`DirectoryOptions::accept_registrations`](crate::binding::http::DirectoryOptions::accept_registrations)
    /// is one). Once the server has started, each Thing's TD — with the forms of every binding it is served
    /// on, the HTTP forms first when it serves HTTP — is `PUT` to `<url>/things/<its id>` with a
    /// [`registration_ttl`](Self::registration_ttl), renewed at half the TTL, and deleted when the server shuts
    /// down. A directory that is down or refuses is logged (with its message) and retried with backoff: it
    /// never fails or delays the start. Call it again for more directories. Only `http://` directories are
    /// supported yet; a URL that is not one fails [`start`](Self::start).
    #[cfg(feature = "http")]
    pub fn register_with(mut self, url: impl Into<String>) -> Self {
        self.directories.0.push(url.into());
        self
    }

    /// How long a registration with a directory ([`register_with`](Self::register_with)) lasts unless renewed:
    /// the directory forgets the Things of a server that stopped without saying so after this long. Default
    /// 60 s; at least 1 s.
    #[cfg(feature = "http")]
    pub fn registration_ttl(mut self, ttl: Duration) -> Self {
        self.directories.1 = ttl.max(Duration::from_secs(1));
        self
    }

    /// Binds every binding and starts serving; returns a handle to stop it.
    pub async fn start(self) -> Result<Server, ServerError> {
        validate_id(&self.id)?;
        #[cfg(feature = "http")]
        let directories = register::directories(&self.directories.0)?;
        let mut bindings = self.bindings;
        bindings.retain(|b| b.serves_anything());
        if bindings.is_empty() {
            return Err(ServerError::NoTransport);
        }
        let mut seen = std::collections::HashSet::new();
        for (id, _) in &self.things {
            validate_id(id)?;
            if !seen.insert(id.clone()) {
                return Err(ServerError::DuplicateThing(id.clone()));
            }
        }
        let mut things = self.things;
        add_remote_things(&mut things, self.backends).await?;
        let thing_ids = things.iter().map(|(id, _)| id.clone()).collect();
        let settings = ServerSettings { id: self.id.clone(), thing_ids, grace: self.shutdown_grace };
        let mut bound: Vec<Box<dyn BoundBinding>> =
            bindings.into_iter().map(|b| b.bind(&settings)).collect::<Result<_, _>>()?;
        // Bindings that connect out (MQTT to its broker) do so before the Things start.
        for binding in &mut bound {
            binding.connect().await?;
        }
        let extensions = bound.iter().filter_map(|b| b.extension()).collect();
        let publisher = Publisher::new(&self.id, bound.iter().filter_map(|b| b.event_sink()).collect());
        let addresses: Vec<BoundAddresses> = bound.iter().flat_map(|b| b.addresses()).collect();
        let http_base_url = bound.iter().find_map(|b| b.base_url());
        let describers = bound.iter().filter_map(|b| b.describer()).collect();
        let store = match self.storage {
            Some(storage) => Some(
                StoreHandle::start(storage)
                    .map_err(|source| ServerError::Io { context: "starting the property store's thread", source })?,
            ),
            None => None,
        };
        let mut runners = Vec::with_capacity(things.len());
        for (_, make) in things {
            runners.push(make(self.id.clone(), publisher.clone(), self.limits, store.clone()).await);
        }
        let core = Arc::new(Core::new(&self.id, runners, self.failure_log, describers));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let stop = StopHandle::new(shutdown_tx.clone(), shutdown_rx.clone())?;
        let mut tasks = Vec::new();
        for binding in bound {
            let control = Control { shutdown: shutdown_rx.clone(), stop: shutdown_tx.clone() };
            tasks.extend(binding.serve(Arc::clone(&core), control));
        }
        #[cfg(feature = "http")]
        tasks.extend(register::start(&core, directories, self.directories.1, &shutdown_rx));
        Ok(Server {
            core,
            store,
            publisher,
            tasks,
            grace: self.shutdown_grace,
            addresses,
            http_base_url,
            shutdown: shutdown_tx,
            stop,
            extensions,
        })
    }

    /// Starts the server and serves until ctrl-c (SIGINT), SIGTERM, a [`StopHandle::stop`] or a permitted
    /// remote EXIT, then shuts down gracefully.
    pub async fn serve(self) -> Result<(), ServerError> {
        self.start().await?.run_until_signal().await;
        Ok(())
    }
}

/// Connects to every backend at once, reads their Things, and adds them to `things`; an id served twice is
/// refused, naming both places.
async fn add_remote_things(
    things: &mut Vec<(String, ThingFactory)>,
    backends: Vec<crate::remote::Backend>,
) -> Result<(), ServerError> {
    if backends.is_empty() {
        return Ok(());
    }
    let mut origin: std::collections::HashMap<String, String> =
        things.iter().map(|(id, _)| (id.clone(), "this server".to_owned())).collect();
    let resolved = futures::future::join_all(backends.into_iter().map(crate::remote::Backend::resolve)).await;
    for remote in resolved {
        for thing in remote?.into_iter().flatten() {
            let id = thing.id().to_owned();
            validate_id(&id)?;
            let here = format!("backend `{}`", thing.backend());
            if let Some(first) = origin.insert(id.clone(), here.clone()) {
                return Err(ServerError::ThingIdClash { id, first, second: here });
            }
            let factory: ThingFactory = Box::new(move |server_id, publisher, _limits, _store| {
                Box::pin(async move { thing.start(&server_id, publisher) })
            });
            things.push((id, factory));
        }
    }
    Ok(())
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

/// Stops a running server from anywhere: another task, another thread, or a signal handler. Cheap to
/// clone; [`Server::stop_handle`] gives one.
///
/// [`stop`](Self::stop) asks for the same graceful stop as ctrl-c: the bindings stop reading requests,
/// and [`Server::run_until_signal`] (or [`ServerBuilder::serve`]) shuts the server down; a program that
/// holds the [`Server`] itself waits for [`Server::stopped`] and calls [`Server::shutdown`].
#[derive(Clone)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

struct StopInner {
    requested: AtomicBool,
    /// One byte written here wakes the server's stop task: `write(2)` is async-signal-safe.
    wake: std::os::unix::net::UnixStream,
    state: watch::Receiver<bool>,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle").field("running", &self.is_running()).finish()
    }
}

impl StopHandle {
    fn new(shutdown: watch::Sender<bool>, state: watch::Receiver<bool>) -> Result<Self, ServerError> {
        let io = |source| ServerError::Io { context: "creating the server's stop signal", source };
        let (wake, listen) = std::os::unix::net::UnixStream::pair().map_err(io)?;
        wake.set_nonblocking(true).map_err(io)?;
        listen.set_nonblocking(true).map_err(io)?;
        let listen = tokio::net::UnixStream::from_std(listen).map_err(io)?;
        let mut stopped = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = listen.readable() => {
                    tracing::info!("stop requested");
                    let _ = shutdown.send(true);
                }
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
        Ok(Self { inner: Arc::new(StopInner { requested: AtomicBool::new(false), wake, state }) })
    }

    /// Asks the server to stop, gracefully. Returns at once; calling it again does nothing. Safe in a signal
    /// handler: it sets a flag and writes one byte to a socket, nothing more.
    pub fn stop(&self) {
        if !self.inner.requested.swap(true, Ordering::AcqRel) {
            let _ = (&self.inner.wake).write(&[1]);
        }
    }

    /// Whether the server still serves: `false` once a stop was asked for, by anyone (this handle, a
    /// signal, a remote `EXIT`, [`Server::shutdown`]).
    pub fn is_running(&self) -> bool {
        !self.inner.requested.load(Ordering::Acquire) && !*self.inner.state.borrow()
    }
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    core: Arc<Core>,
    store: Option<StoreHandle>,
    publisher: Publisher,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    grace: Duration,
    addresses: Vec<BoundAddresses>,
    http_base_url: Option<String>,
    shutdown: watch::Sender<bool>,
    stop: StopHandle,
    /// What bindings gave the server to keep (the MQTT binding's counters), found by type.
    extensions: Vec<Arc<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("id", &self.id()).field("addresses", &self.addresses).finish()
    }
}

impl Server {
    /// Starts configuring a server whose ZeroMQ routing id is `id` (hololinked clients address it by this id).
    pub fn builder(id: impl Into<String>) -> ServerBuilder {
        ServerBuilder::new(id)
    }

    /// What a binding gave the server to keep, of type `T` (see `BoundBinding::extension`).
    #[cfg_attr(not(feature = "mqtt"), allow(dead_code, reason = "only the MQTT binding keeps something yet"))]
    pub(crate) fn extension<T: std::any::Any>(&self) -> Option<&T> {
        self.extensions.iter().find_map(|e| e.downcast_ref::<T>())
    }

    /// The server id.
    pub fn id(&self) -> &str {
        self.core.server_id()
    }

    /// The bound ZeroMQ addresses, one entry per transport.
    pub fn addresses(&self) -> &[BoundAddresses] {
        &self.addresses
    }

    /// The request address of the first transport of `protocol`.
    pub fn address(&self, protocol: Protocol) -> Option<&str> {
        self.addresses.iter().find(|a| a.protocol == protocol).map(|a| a.requests.as_str())
    }

    /// The HTTP binding's base URL, e.g. `http://127.0.0.1:8080` (`None` without [`ServerBuilder::http`]).
    pub fn http_base_url(&self) -> Option<&str> {
        self.http_base_url.as_deref()
    }

    /// The ids of the Things served.
    pub fn thing_ids(&self) -> Vec<&str> {
        self.core.thing_ids()
    }

    /// The event publisher (how many events were sent, or to publish on a Thing's behalf).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// How requests have been answered so far: failures, timeouts, late results dropped.
    pub fn stats(&self) -> ServerStats {
        self.core.stats()
    }

    /// What went wrong with persisted properties so far, oldest first: stored values that could not be
    /// restored (each with the property's name; the property kept its default), stores that could not be
    /// opened or written. Empty without [`ServerBuilder::storage`].
    pub fn persist_warnings(&self) -> Vec<PersistWarning> {
        self.store.as_ref().map(StoreHandle::warnings).unwrap_or_default()
    }

    /// The serving core, for a binding of one's own.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Submits requests to this server's core in-process ([`crate::binding::memory`]).
    pub fn memory(&self) -> MemoryBinding {
        MemoryBinding::new(Arc::clone(&self.core))
    }

    /// A handle that stops the server from any task, thread or signal handler.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Whether the server still serves (see [`StopHandle::is_running`]).
    pub fn is_running(&self) -> bool {
        self.stop.is_running()
    }

    /// Serves until ctrl-c (SIGINT), SIGTERM, a [`StopHandle::stop`] or a permitted remote EXIT, then shuts
    /// down gracefully. Use it after [`ServerBuilder::start`] when there is work to do between starting and
    /// serving (printing the bound addresses, binding extra event handles…).
    pub async fn run_until_signal(self) {
        let mut stopped = self.shutdown.subscribe();
        let signal = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        tokio::select! {
            _ = signal => tracing::info!(server = %self.id(), "signal received, shutting down"),
            _ = stopped.wait_for(|s| *s) => tracing::info!(server = %self.id(), "stopped by a stop request or a remote EXIT"),
        }
        self.shutdown().await;
    }

    /// Resolves once the server has been asked to stop (by [`Server::shutdown`], a [`StopHandle`] or a
    /// permitted remote EXIT).
    pub async fn stopped(&self) {
        let _ = self.shutdown.subscribe().wait_for(|s| *s).await;
    }

    /// Stops gracefully: no new requests are read; requests still waiting in a queue are answered with an
    /// `EXCEPTION`; running operations get up to the grace period to finish and answer; then the sockets
    /// close and the IPC socket files are removed.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for runner in self.core.runners() {
            runner.close();
        }
        let deadline = tokio::time::Instant::now() + self.grace;
        for runner in self.core.runners() {
            let mut done = runner.finished();
            let _ = tokio::time::timeout_at(deadline, done.wait_for(|d| *d)).await;
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.publisher.close();
        tracing::info!(server = %self.core.server_id(), "stopped");
    }
}
