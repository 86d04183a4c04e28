//! Remote Things: Things that live on another server — thingwire or hololinked 0.4, reached over ZeroMQ
//! through the [`Client`] — served by this server's core as if they were its own, through every binding it
//! has. This is what a gateway is ([`ServerBuilder::backend`](crate::ServerBuilder::backend)): a server
//! with remote Things and the bindings, authentication and directory a lab wants in front of them.
//!
//! ```no_run
//! # async fn run() -> Result<(), thingwire::ServerError> {
//! use thingwire::{Server, remote::Backend};
//!
//! Server::builder("lab-gateway")
//!     .backend(Backend::new("tcp://spectro-pc:5555"))                           // a thingwire server
//!     .backend(Backend::new("tcp://stage-pc:6000").things(["stage", "laser"]))  // hololinked lists none
//!     .tcp("0.0.0.0:5555")
//!     .http("0.0.0.0:8080")
//!     .serve()
//!     .await
//! # }
//! ```
//!
//! When the server starts it connects to each backend, finds its Things (`list_things` on a thingwire
//! server; a hololinked server names none, so they are configured) and reads their TDs. Then:
//!
//! * every request to a remote Thing is forwarded as it came — operation, name, payload and its content
//!   type, raw bytes, timeouts — on one connection per backend, many requests in flight at once (the remote
//!   schedules them as it always does), and its reply goes back as it came: a value, the remote's error with
//!   its type and message (a `ValueError` stays a `ValueError`), or its `TIMEOUT`;
//! * the remote's events and property changes are re-published on every binding of this server;
//! * the TD served is the remote's (its schemas, units and terms) with this server's `id`, security and forms;
//! * a backend that goes away makes its Things answer `ConnectionError` "unreachable" at once (HTTP 503)
//!   until it is back; the connection comes back by itself.
//!
//! Thing ids must be unique over the server: two backends (or a backend and a local Thing) serving the same id
//! are refused at start, naming both. The set of remote Things is fixed when the server starts.

mod describe;
mod relay;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::auth::Credentials;
use crate::client::{CallOptions, Client, ConnectOptions, RawReply, RawRequest};
use crate::core::responder::ErrorClass;
use crate::core::scheduler::{Job, RemoteInfo, Runner};
use crate::error::{ClientError, ServerError, ThingError};
use crate::event::{EventBinder, EventKind, Publisher};
use crate::protocol::{self, ContentType, MessageType, TimeoutKind, names};
use crate::td::Document;
use crate::thing::Output;
use crate::thing::ThingDescriptor;

/// A server whose Things a gateway serves: its address, and how to reach it.
#[derive(Clone)]
pub struct Backend {
    address: String,
    things: Option<Vec<String>>,
    options: ConnectOptions,
    optional: bool,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("address", &self.address)
            .field("things", &self.things)
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// The server at `address` (`tcp://host:port`, `ipc://path` or `inproc://id`, as for [`Client::connect`]);
    /// all the Things it lists are served.
    pub fn new(address: impl Into<String>) -> Self {
        let options = ConnectOptions { handshake_timeout: Duration::from_secs(10), ..ConnectOptions::default() };
        Self { address: address.into(), things: None, options, optional: false }
    }

    /// Serves these Things of the backend only. Needed for a hololinked server, which does not list its
    /// Things.
    pub fn things<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.things = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// What to present to a backend that requires authentication (TCP).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.options.credentials = credentials;
        self
    }

    /// How long to wait for the backend when the server starts (default 10 s).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.options.handshake_timeout = wait;
        self
    }

    /// All connection options (the ZeroMQ context for `inproc://`, heartbeats, …).
    pub fn connect_options(mut self, options: ConnectOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts the server without this backend's Things when it cannot be reached at start (logged), instead
    /// of failing the start.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Connects, finds the Things and reads their TDs; `None` for an optional backend that is not there.
    pub(crate) async fn resolve(self) -> Result<Option<Vec<RemoteThing>>, ServerError> {
        let fail = |message: String| ServerError::Backend { address: self.address.clone(), message };
        let client = match Client::connect_with(&self.address, self.options.clone()).await {
            Ok(client) => client,
            Err(e) if self.optional => {
                tracing::warn!(backend = %self.address, error = %e, "an optional backend is not reachable; its Things are not served");
                return Ok(None);
            }
            Err(e) => return Err(fail(format!("could not connect: {e}; start it first, or mark it optional"))),
        };
        let ids = match self.things.clone() {
            Some(ids) => ids,
            None => match client.list_things().await {
                Ok(things) => things.into_iter().map(|t| t.id).collect(),
                Err(e) => {
                    return Err(fail(format!(
                        "it does not list its Things ({e}) — a hololinked server lists none: name them with \
                         `Backend::things([...])`, or `things = [...]` in the gateway's configuration"
                    )));
                }
            },
        };
        let link = Arc::new(Link {
            client: client.clone(),
            address: self.address.clone(),
            server_id: client.server_id(),
            topics: Arc::default(),
            stop: watch::channel(false).0,
        });
        let mut things = Vec::with_capacity(ids.len());
        for id in ids {
            let td = client
                .thing_description(&id)
                .await
                .map_err(|e| fail(format!("could not read the Thing Description of `{id}`: {e}")))?;
            let document: Document = serde_json::from_value(td)
                .map_err(|e| fail(format!("the Thing Description of `{id}` is not one thingwire can read: {e}")))?;
            things.push(RemoteThing { id, document, link: Arc::clone(&link) });
        }
        let event_address = crate::client::event_address_for(&self.address);
        let ids: Vec<String> = things.iter().map(|t| t.id.clone()).collect();
        relay::start(&event_address, &self.options.credentials, &ids, Arc::clone(&link.topics), link.stop.subscribe())
            .map_err(|e| fail(format!("could not subscribe to its events: {e}")))?;
        Ok(Some(things))
    }
}

/// One backend connection, shared by its Things.
struct Link {
    client: Client,
    address: String,
    server_id: String,
    topics: Arc<relay::Topics>,
    /// Turned true when the server shuts down: stops the event relay.
    stop: watch::Sender<bool>,
}

/// A Thing of a backend, its TD read, not served yet.
pub(crate) struct RemoteThing {
    id: String,
    document: Document,
    link: Arc<Link>,
}

impl RemoteThing {
    /// The Thing's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The address of the backend it lives on.
    pub(crate) fn backend(&self) -> &str {
        &self.link.address
    }

    /// Serves it: its events go out through `publisher` (as Thing `id` of server `server_id`).
    pub(crate) fn start(self, server_id: &str, publisher: Publisher) -> Arc<dyn Runner> {
        let descriptor = describe::descriptor(&self.document);
        let urn = crate::td::thing_urn(server_id, &self.id);
        let binder = EventBinder::new(&self.id, publisher).with_alias(&urn);
        for event in descriptor.events {
            self.link
                .topics
                .insert(names::event_topic(&self.id, event.name), binder.routes(event.name, EventKind::Event));
        }
        for property in descriptor.properties.iter().filter(|p| p.observable) {
            let topic = names::event_topic(&self.id, &names::change_event(property.name));
            self.link.topics.insert(topic, binder.routes(property.name, EventKind::PropertyChange));
        }
        let (done, _) = watch::channel(false);
        Arc::new(RemoteRunner {
            id: Arc::from(self.id.as_str()),
            descriptor,
            info: RemoteInfo { document: self.document, backend: self.link.address.clone() },
            link: self.link,
            in_flight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            done,
        })
    }
}

/// The core's face of a remote Thing: forwards every request, many at once.
struct RemoteRunner {
    id: Arc<str>,
    descriptor: &'static ThingDescriptor,
    info: RemoteInfo,
    link: Arc<Link>,
    in_flight: AtomicUsize,
    /// Shutting down: the last forwarded request to finish says it is done.
    closing: AtomicBool,
    done: watch::Sender<bool>,
}

impl Runner for RemoteRunner {
    fn thing_id(&self) -> &Arc<str> {
        &self.id
    }

    fn descriptor(&self) -> &'static ThingDescriptor {
        self.descriptor
    }

    fn remote(&self) -> Option<&RemoteInfo> {
        Some(&self.info)
    }

    fn submit(self: Arc<Self>, job: Job) {
        if self.closing.load(Ordering::Acquire) {
            let e = ThingError::new(
                "ConnectionError",
                format!("the gateway is shutting down; `{}` is not served", self.id),
            );
            return job.reply.error(ErrorClass::Unavailable, &e, None);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            self.forward(&job).await;
            if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 && self.closing.load(Ordering::Acquire) {
                self.done.send_replace(true);
            }
        });
    }

    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.link.stop.send_replace(true);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            self.done.send_replace(true);
        }
    }

    fn finished(&self) -> watch::Receiver<bool> {
        self.done.subscribe()
    }
}

impl RemoteRunner {
    /// How long after a request's own timeouts the gateway waits for a backend that does not answer them.
    const GRACE: Duration = Duration::from_secs(5);

    /// Sends the request on to the backend and its answer back, as they are.
    async fn forward(&self, job: &Job) {
        let reply = &job.reply;
        let body = reply.body();
        let content_type = match &job.content_type {
            // A hololinked backend reads plain msgpack only; a thingwire client's packed payload is valid msgpack.
            ContentType::ThingwireMsgpack if !self.link.client.packed_arrays() => ContentType::Msgpack,
            other => other.clone(),
        };
        let payload = match body.payload() {
            [] => protocol::encode(&(), &content_type).unwrap_or_else(|_| b"null".to_vec()),
            bytes => bytes.to_vec(),
        };
        let name = reply.name();
        let request = RawRequest {
            thing_id: &self.id,
            objekt: (!name.is_empty()).then_some(name),
            operation: reply.origin().operation,
            payload,
            preserialized: body.preserialized().to_vec(),
        };
        // The backend answers its own timeouts; should it not (a backend that hangs), the gateway gives up a while
        // after them and answers the timeout itself. Without an execution timeout the operation may run for as
        // long as it takes; a backend that goes away then fails the call when its heartbeats stop.
        let timeout = job
            .ctx
            .execution_timeout
            .map(|execution| job.ctx.invocation_timeout.unwrap_or_default() + execution + Self::GRACE);
        let options = CallOptions {
            timeout,
            invocation_timeout: job.ctx.invocation_timeout,
            execution_timeout: job.ctx.execution_timeout,
            oneway: false,
            fetch_execution_logs: job.ctx.fetch_logs,
            content_type,
        };
        match self.link.client.request(request, &options).await {
            Ok(Some(raw)) => self.answer(job, raw),
            Ok(None) => reply.value(&job.content_type.for_reply(), Output::none(&job.content_type), None),
            Err(ClientError::Timeout { .. }) => reply.timeout(TimeoutKind::Execution),
            Err(e) => reply.error(ErrorClass::Unavailable, &self.unreachable(&e), None),
        }
    }

    fn answer(&self, job: &Job, raw: RawReply) {
        let reply = &job.reply;
        match raw.kind {
            Some(MessageType::Reply) => {
                let content_type = job.content_type.for_reply();
                let payload = match transcode(raw.payload, &raw.content_type, &content_type) {
                    Ok(payload) => payload,
                    Err(e) => {
                        let e = ThingError::runtime(format!(
                            "backend `{}` answered with a {} value thingwire could not read: {e}",
                            self.link.address,
                            raw.content_type.as_str()
                        ));
                        return reply.error(ErrorClass::Failed, &e, None);
                    }
                };
                reply.value(&content_type, Output { payload, preserialized: raw.preserialized }, None);
            }
            Some(MessageType::Timeout) => {
                let word: String = protocol::decode(&raw.payload, &raw.content_type).unwrap_or_default();
                reply.timeout(TimeoutKind::from_wire(&word).unwrap_or(TimeoutKind::Execution));
            }
            kind => {
                let error = protocol::decode::<protocol::ErrorPayload>(&raw.payload, &raw.content_type)
                    .map(|p| p.exception)
                    .unwrap_or_else(|_| protocol::ErrorObject {
                        message: String::from_utf8_lossy(&raw.payload).into_owned(),
                        kind: "Exception".into(),
                        traceback: Vec::new(),
                        notes: None,
                    });
                let class =
                    if kind == Some(MessageType::InvalidMessage) { ErrorClass::Invalid } else { ErrorClass::Failed };
                let error = ThingError { kind: error.kind, message: error.message, notes: error.notes };
                reply.error(class, &error, None);
            }
        }
    }

    fn unreachable(&self, e: &ClientError) -> ThingError {
        ThingError::new(
            "ConnectionError",
            format!(
                "`{}` lives on backend `{}` (server `{}`), which is unreachable: {e}; the gateway reconnects by \
                 itself — retry once the backend is back",
                self.id, self.link.address, self.link.server_id
            ),
        )
    }
}

/// A reply's payload in the content type the client asked for: as it came when the backend answered in that
/// one, else decoded and encoded again (hololinked answers a msgpack write with JSON `null`).
fn transcode(payload: Vec<u8>, from: &ContentType, to: &ContentType) -> Result<Vec<u8>, String> {
    if from.is_msgpack() == to.is_msgpack() {
        return Ok(payload);
    }
    let value: serde_json::Value = protocol::decode(&payload, from).map_err(|e| e.to_string())?;
    protocol::encode(&value, to).map_err(|e| e.to_string())
}
