//! Bindings: what carries the core's requests and events over a transport.
//!
//! A binding owns its sockets. It decodes its wire into core requests
//! ([`RequestHead`](crate::core::RequestHead) + [`Body`](crate::core::Body)), hands them to
//! [`Core::submit`](crate::core::Core::submit) with a [`ReplySink`](crate::core::ReplySink) that encodes the
//! answer back into its wire, gives the publisher an [`EventSink`] when it carries
//! events, and adds its forms to the Thing Descriptions requested through it
//! ([`BindingContext`](crate::core::BindingContext)). Every binding gets the same scheduling, timeouts,
//! validation, limits and errors from the core.
//!
//! * [`zmq`] — hololinked 0.4's ZeroMQ protocol: ROUTER and PUB sockets on TCP, IPC and INPROC, ZAP
//!   authentication. Configured with [`ServerBuilder::tcp`](crate::ServerBuilder::tcp) and its siblings.
//! * `mqtt` (feature `mqtt`) — publishes to an MQTT broker as hololinked's MQTT publisher, and takes requests
//!   over MQTT 5. Configured with `ServerBuilder::mqtt`.
//! * [`memory`] — requests handed to the core in-process, with no socket: for tests (deterministic, and
//!   usable under tokio's paused time) and for code that drives Things in the same process.
//!
//! A new binding goes in a module of its own here, with its `impl ServerBuilder` block for its settings.

#[cfg(feature = "http")]
pub mod http;
pub mod memory;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod zmq;

use std::any::Any;
use std::sync::Arc;

use tokio::sync::watch;

use crate::core::Core;
use crate::error::ServerError;
use crate::event::EventSink;
use crate::transport::BoundAddresses;

/// A binding as the server builder holds it, before the server starts.
pub(crate) trait BindingSpec: Any + Send {
    /// For the builder methods of this binding to find their settings.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// Whether it has anything to serve (ZeroMQ settings without a transport have not).
    fn serves_anything(&self) -> bool {
        true
    }

    /// Binds the binding's addresses (before the Things start, so that their events have somewhere to go).
    fn bind(self: Box<Self>, server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError>;
}

/// What every binding is told about the server it serves.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) id: String,
    /// The ids of the Things it serves (a binding whose addresses name them checks them here).
    #[cfg_attr(
        not(any(feature = "mqtt", feature = "http")),
        allow(dead_code, reason = "only the MQTT and HTTP bindings check Thing ids")
    )]
    pub(crate) thing_ids: Vec<String>,
    /// How long, at shutdown, answers of running operations are still sent.
    pub(crate) grace: std::time::Duration,
}

/// How a running binding is stopped, and how it may stop the server (a permitted remote `EXIT`).
#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) stop: watch::Sender<bool>,
}

/// What [`BoundBinding::connect`] returns.
pub(crate) type Connecting<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ServerError>> + Send + 'a>>;

/// A binding whose addresses are bound.
pub(crate) trait BoundBinding: Send {
    /// Connects to what it connects to (the MQTT binding: its broker), before the Things start; an error
    /// fails `start()`. Bindings that only listen have nothing to do.
    fn connect(&mut self) -> Connecting<'_> {
        Box::pin(async { Ok(()) })
    }

    /// What the binding gives the [`Server`](crate::Server) to keep (the MQTT binding: its counters), found by
    /// type with `Server::extension`.
    fn extension(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        None
    }

    /// Where its events go, if it carries events.
    fn event_sink(&self) -> Option<Arc<dyn EventSink>>;

    /// Its part of the Thing Descriptions requested through other bindings, under its name.
    fn describer(&self) -> Option<(&'static str, Arc<dyn crate::core::Describe>)> {
        None
    }

    /// Its base URL (the HTTP binding's; others have none).
    fn base_url(&self) -> Option<String> {
        None
    }

    /// Its ZeroMQ addresses (the ZeroMQ binding's; others have none).
    fn addresses(&self) -> Vec<BoundAddresses> {
        Vec::new()
    }

    /// Starts serving: its tasks end once `control.shutdown` turns `true` and the answers still due within
    /// the grace period are sent.
    fn serve(self: Box<Self>, core: Arc<Core>, control: Control) -> Vec<tokio::task::JoinHandle<()>>;
}
