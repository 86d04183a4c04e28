//! The ZeroMQ binding: hololinked 0.4's protocol on ROUTER and PUB sockets, over TCP, IPC and INPROC, with
//! ZAP authentication on TCP. This module (with the client's connection code) is the only place that uses
//! libzmq.
//!
//! * `socket`: the task that owns a ROUTER socket and turns hololinked messages into core requests;
//! * `reply`: the core's answers as hololinked frames;
//! * `publish`: events on the PUB sockets;
//! * the builder settings (`ServerBuilder::tcp`, `ipc`, `inproc`, `authentication`, …) in `builder.rs`;
//! * addresses and the socket/reactor integration in [`crate::transport`], ZAP in [`crate::auth`].

mod builder;
pub(crate) mod publish;
pub(crate) mod reply;
pub(crate) mod socket;

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::{Auth, ZapDomain};
use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::Core;
use crate::error::ServerError;
use crate::event::EventSink;
use crate::transport::{self, BoundAddresses, Protocol, RouterSocket, Transport};
use publish::{PubSink, PubSockets};

/// The binding's name, for [`Describe`](crate::core::Describe).
pub(crate) const NAME: &str = "zmq";

/// The ZeroMQ binding's part of TDs requested through other bindings: the forms of every transport.
struct Forms {
    addresses: Vec<BoundAddresses>,
    security: Option<crate::td::SecurityScheme>,
}

impl crate::core::Describe for Forms {
    fn describe<'t>(&'t self, td: crate::td::ThingDescription<'t>) -> crate::td::ThingDescription<'t> {
        let td = self.addresses.iter().fold(td, |td, a| td.served_on(a));
        match &self.security {
            Some(scheme) => td.secured_by(scheme),
            None => td,
        }
    }
}

/// The ZeroMQ binding's settings, as the server builder collects them.
pub(crate) struct Spec {
    transports: Vec<Transport>,
    context: Option<zmq::Context>,
    allow_remote_exit: bool,
    max_message_size: usize,
    max_frames: usize,
    max_in_flight: usize,
    max_subscribers: usize,
    event_hwm: i32,
    auth: Option<Auth>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            transports: Vec::new(),
            context: None,
            allow_remote_exit: false,
            max_message_size: 64 << 20,
            max_frames: 16,
            max_in_flight: 256,
            max_subscribers: 1024,
            event_hwm: 10_000,
            auth: None,
        }
    }
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZeroMQ").field("transports", &self.transports).finish_non_exhaustive()
    }
}

impl BindingSpec for Spec {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn serves_anything(&self) -> bool {
        !self.transports.is_empty()
    }

    fn bind(self: Box<Self>, server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError> {
        let spec = *self;
        let context = spec.context.clone().unwrap_or_else(|| transport::context().clone());
        let zap = match &spec.auth {
            Some(auth) => {
                if !spec.transports.iter().any(|t| matches!(t, Transport::Tcp(_))) {
                    tracing::warn!(server = %server.id, "authentication applies to TCP only, and this server has no TCP transport");
                }
                Some(ZapDomain::register(&context, &server.id, auth)?)
            }
            None => None,
        };
        let mut routers = Vec::new();
        let mut pubs = Vec::new();
        let mut gates = Vec::new();
        let mut cleanup = Vec::new();
        for t in &spec.transports {
            let b = bind_transport(&context, &server.id, t, &spec, zap.as_ref(), &mut cleanup)?;
            pubs.push(b.publisher);
            gates.extend(b.gate);
            routers.push((b.router, b.addresses));
        }
        Ok(Box::new(Bound {
            server: server.clone(),
            routers,
            sockets: PubSockets::new(&server.id, pubs),
            security: spec.auth.as_ref().map(Auth::td_scheme),
            allow_remote_exit: spec.allow_remote_exit,
            max_message_size: spec.max_message_size,
            max_frames: spec.max_frames,
            max_in_flight: spec.max_in_flight,
            zap: zap.into_iter().chain(gates).collect(),
            cleanup,
        }))
    }
}

/// The ZeroMQ binding with its sockets bound.
struct Bound {
    server: ServerSettings,
    routers: Vec<(RouterSocket, BoundAddresses)>,
    sockets: Arc<PubSockets>,
    security: Option<crate::td::SecurityScheme>,
    allow_remote_exit: bool,
    max_message_size: usize,
    max_frames: usize,
    max_in_flight: usize,
    /// Keeps the server's ZAP rules (requests and event sockets) registered while its sockets live.
    zap: Vec<ZapDomain>,
    /// IPC socket files, removed when the binding stops.
    cleanup: Vec<PathBuf>,
}

impl BoundBinding for Bound {
    fn event_sink(&self) -> Option<Arc<dyn EventSink>> {
        Some(Arc::new(PubSink(Arc::clone(&self.sockets))))
    }

    fn addresses(&self) -> Vec<BoundAddresses> {
        self.routers.iter().map(|(_, a)| a.clone()).collect()
    }

    fn describer(&self) -> Option<(&'static str, Arc<dyn crate::core::Describe>)> {
        let forms = Forms { addresses: self.addresses(), security: self.security.clone() };
        Some((NAME, Arc::new(forms)))
    }

    fn serve(self: Box<Self>, core: Arc<Core>, control: Control) -> Vec<tokio::task::JoinHandle<()>> {
        let Bound {
            server,
            routers,
            sockets: _,
            security,
            allow_remote_exit,
            max_message_size,
            max_frames,
            max_in_flight,
            zap,
            cleanup,
        } = *self;
        let shared = Arc::new(socket::Shared {
            core,
            server_id: Arc::from(server.id.as_str()),
            addresses: routers.iter().map(|(_, a)| a.clone()).collect(),
            allow_remote_exit,
            max_message_size,
            max_frames,
            max_in_flight,
            stop: control.stop.clone(),
            security,
        });
        for a in &shared.addresses {
            tracing::info!(server = %server.id, requests = %a.requests, events = %a.events, "serving");
        }
        let tasks: Vec<_> = routers
            .into_iter()
            .map(|(router, addresses)| {
                let task = socket::socket_loop(
                    router,
                    addresses.protocol,
                    Arc::clone(&shared),
                    control.shutdown.clone(),
                    server.grace,
                );
                tokio::spawn(task)
            })
            .collect();
        // Once every socket task has ended: the ZAP rules go, and the IPC socket files.
        let last = tokio::spawn(async move {
            for task in tasks {
                let _ = task.await;
            }
            drop(zap);
            for path in &cleanup {
                let _ = std::fs::remove_file(path);
            }
        });
        vec![last]
    }
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

fn new_router(ctx: &zmq::Context, server_id: &str, spec: &Spec) -> Result<zmq::Socket, ServerError> {
    let socket = ctx.socket(zmq::ROUTER).map_err(zmq_err("creating the ROUTER socket"))?;
    socket.set_identity(server_id.as_bytes()).map_err(zmq_err("setting the routing id"))?;
    socket.set_router_mandatory(true).map_err(zmq_err("setting ROUTER_MANDATORY"))?;
    socket.set_linger(1000).map_err(zmq_err("setting LINGER"))?;
    // A hard cap far above the soft limit: only absurd frames make libzmq drop the connection.
    let hard = (spec.max_message_size as i64).saturating_mul(4);
    socket.set_maxmsgsize(hard).map_err(zmq_err("setting MAXMSGSIZE"))?;
    socket.set_rcvhwm(100_000).map_err(zmq_err("setting RCVHWM"))?;
    socket.set_sndhwm(100_000).map_err(zmq_err("setting SNDHWM"))?;
    Ok(socket)
}

fn new_pub(ctx: &zmq::Context, server_id: &str, spec: &Spec) -> Result<zmq::Socket, ServerError> {
    let socket = ctx.socket(zmq::PUB).map_err(zmq_err("creating the PUB socket"))?;
    socket
        .set_identity(format!("{server_id}/event-publisher").as_bytes())
        .map_err(zmq_err("setting the publisher id"))?;
    socket.set_sndhwm(spec.event_hwm).map_err(zmq_err("setting SNDHWM"))?;
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
    spec: &Spec,
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
                let router = new_router(ctx, server_id, spec)?;
                let publisher = new_pub(ctx, server_id, spec)?;
                if let Some(zap) = zap {
                    zap.apply(&router)?;
                }
                let gate = event_gate(ctx, server_id, spec.auth.as_ref(), &publisher, spec)?;
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
            let router = new_router(ctx, server_id, spec)?;
            let publisher = new_pub(ctx, server_id, spec)?;
            // IPC is not authenticated (the socket files' permissions guard it); only the limit applies.
            let gate = event_gate(ctx, server_id, None, &publisher, spec)?;
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
            let router = new_router(ctx, server_id, spec)?;
            let publisher = new_pub(ctx, server_id, spec)?;
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
    spec: &Spec,
) -> Result<Option<ZapDomain>, ServerError> {
    let gate = ZapDomain::register_events(ctx, server_id, auth, publisher, spec.max_subscribers)?;
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
