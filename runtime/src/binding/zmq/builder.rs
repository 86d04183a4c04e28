//! The ZeroMQ binding's settings on the server builder.

use std::path::PathBuf;

use super::Spec;
use crate::ServerBuilder;
use crate::auth::Auth;
use crate::protocol;
use crate::transport::Transport;

impl ServerBuilder {
    /// The ZeroMQ binding's settings (added on first use).
    fn zmq(&mut self) -> &mut Spec {
        self.binding_mut::<Spec>()
    }

    /// Listens on TCP at `address` (`host:port` or `tcp://host:port`; port 0 picks a free port). Events are
    /// published on port + 1, as hololinked does.
    pub fn tcp(mut self, address: impl Into<String>) -> Self {
        self.zmq().transports.push(Transport::Tcp(address.into()));
        self
    }

    /// Listens on IPC where hololinked clients look for this server id (`~/.hololinked/sockets`).
    pub fn ipc(mut self) -> Self {
        self.zmq().transports.push(Transport::Ipc(None));
        self
    }

    /// Listens on IPC with the socket files in `dir` (hololinked's `TEMP_DIR/sockets`).
    pub fn ipc_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.zmq().transports.push(Transport::Ipc(Some(dir.into())));
        self
    }

    /// Listens in-process (`inproc://<id>`), for clients in the same process and ZeroMQ context.
    pub fn inproc(mut self) -> Self {
        self.zmq().transports.push(Transport::Inproc);
        self
    }

    /// Uses `context` instead of the process-wide [`crate::transport::context`].
    pub fn context(mut self, context: zmq::Context) -> Self {
        self.zmq().context = Some(context);
        self
    }

    /// Lets a client stop the server with an `EXIT` message. Off by default: hololinked accepts EXIT from
    /// anyone, with no authentication.
    pub fn allow_remote_exit(mut self, allow: bool) -> Self {
        self.zmq().allow_remote_exit = allow;
        self
    }

    /// Largest accepted message (all frames together); larger ones get `INVALID_MESSAGE`. Default 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.zmq().max_message_size = bytes.max(1024);
        self
    }

    /// Most frames a message may have; a message with more gets `INVALID_MESSAGE`. Its frames past the limit
    /// (or past [`max_message_size`](Self::max_message_size)) are dropped as they are read, so the server
    /// never holds them (libzmq itself receives a whole message before it hands over the first frame).
    /// Default 16, at least 5 (a hololinked message has 5).
    pub fn max_frames(mut self, frames: usize) -> Self {
        self.zmq().max_frames = frames.max(protocol::FRAME_COUNT);
        self
    }

    /// Most requests one client (one routing id, on one transport) may have in flight: admitted to a Thing
    /// and not yet answered — queued, running, concurrent and threaded alike. The excess gets an `EXCEPTION`
    /// (`RuntimeError`) at once; a slot is given back when the request's reply (or `TIMEOUT`) is sent, or,
    /// for a oneway request, when the server is done with it. Default 256.
    pub fn max_in_flight_per_client(mut self, requests: usize) -> Self {
        self.zmq().max_in_flight = requests.max(1);
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
        self.zmq().max_subscribers = subscribers.max(1);
        self
    }

    /// The PUB sockets' send high-water mark (messages queued per subscriber). At the mark libzmq drops
    /// further events for that subscriber until it catches up; the server never blocks. Default 10 000.
    pub fn event_high_water_mark(mut self, messages: i32) -> Self {
        self.zmq().event_hwm = messages.max(1);
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
        self.zmq().auth = Some(auth);
        self
    }
}
