//! The HTTP binding: the same Things over HTTP/1.1 and HTTP/2 (h2c) on one port, with hololinked 0.4.2's
//! routes, Server-Sent Events for events and property changes, and Thing Descriptions with HTTP forms.
//!
//! * `builder.rs`: `ServerBuilder::http`, [`HttpOptions`];
//! * `handler.rs`: requests → core requests (the routes, query parameters, content types, `noblock`);
//! * `reply.rs`: the core's answers → status codes and bodies;
//! * `sse.rs`: the event sink and the event streams;
//! * `routes.rs`: the path of each property, action and event;
//! * `panel/`: the web panel at `/` and `/<thing>/`;
//! * `directory.rs`: the W3C WoT Thing Description Directory at `/things` and `/.well-known/wot`
//!   ([`DirectoryOptions`]);
//! * [`HttpForms`]: the forms in Thing Descriptions.
//!
//! axum routes the requests and hyper serves the connections; the binding writes only the mapping.

mod auth;
mod builder;
mod directory;
mod forms;
mod handler;
mod panel;
mod reply;
mod routes;
mod sse;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::{HttpAuth, PasswordHashError};
pub use builder::{HttpOptions, HttpTls};
pub use directory::{DISCOVERY_CONTEXT, DirectoryOptions};
pub use forms::HttpForms;

use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::{Core, Describe};
use crate::error::ServerError;
use crate::event::EventSink;
use crate::td::ThingDescription;

/// The binding's name, for [`Describe`].
pub(crate) const NAME: &str = "http";

/// The HTTP binding's settings, as the server builder collects them.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    address: Option<String>,
    options: HttpOptions,
}

impl BindingSpec for Spec {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn serves_anything(&self) -> bool {
        self.address.is_some()
    }

    fn bind(self: Box<Self>, server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError> {
        let Spec { address, options } = *self;
        let reserved = server.thing_ids.iter().find(|id| directory::RESERVED_IDS.contains(&id.as_str()));
        if options.directory.enabled
            && let Some(id) = reserved
        {
            return Err(ServerError::InvalidId {
                id: id.clone(),
                reason: "the HTTP binding's Thing Directory serves `/things` and `/.well-known`: rename the Thing, \
                         or turn the directory off (HttpOptions { directory: DirectoryOptions { enabled: false, .. }, \
                         .. })",
            });
        }
        let address = address.unwrap_or_default();
        let invalid = |reason: String| ServerError::Address { address: address.clone(), reason };
        let bare = address.strip_prefix("http://").unwrap_or(&address);
        let addr: SocketAddr = match bare.parse() {
            Ok(addr) => addr,
            Err(_) => {
                let (host, port) = crate::transport::parse_tcp(bare)?;
                let port: u16 = port;
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                    .map_err(|e| invalid(format!("the host does not resolve: {e}")))?
                    .next()
                    .ok_or_else(|| invalid("the host does not resolve".into()))?
            }
        };
        let io = |source| ServerError::Io { context: "binding the HTTP listener", source };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                invalid("another process uses this port; stop it or choose another port".into())
            } else {
                io(e)
            }
        })?;
        listener.set_nonblocking(true).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
        let host = if local.ip().is_unspecified() {
            crate::transport::href_host("0.0.0.0")
        } else if local.is_ipv6() {
            format!("[{}]", local.ip())
        } else {
            local.ip().to_string()
        };
        let tls = match &options.tls {
            Some(files) => Some(tls_acceptor(files)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{host}:{}", local.port());
        let forms = HttpForms::new(&base).secured_by(options.auth.as_ref().map(HttpAuth::scheme));
        Ok(Box::new(Bound { listener, local, forms, base, options, hub: Arc::default(), tls }))
    }
}

/// The HTTP binding with its listener bound.
struct Bound {
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    base: String,
    forms: HttpForms,
    options: HttpOptions,
    hub: Arc<sse::Hub>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The TLS side of an HTTPS server, from its PEM files; HTTP/2 and HTTP/1.1 offered by ALPN.
fn tls_acceptor(files: &HttpTls) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &std::path::Path, reason: String| ServerError::Address {
        address: path.display().to_string(),
        reason: format!("the TLS {what} could not be read: {reason}"),
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(|e| bad("certificate", &files.certificate, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", &files.certificate, e.to_string()))?;
    if certificates.is_empty() {
        return Err(bad("certificate", &files.certificate, "it holds no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| bad("key", &files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("configuration", &files.certificate, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| bad("key", &files.key, format!("it does not match the certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The HTTP binding's part of TDs requested through other bindings.
struct Forms(HttpForms);

impl Describe for Forms {
    fn describe<'t>(&'t self, td: ThingDescription<'t>) -> ThingDescription<'t> {
        td.with_forms(&self.0)
    }

    fn describe_as_own<'t>(&'t self, td: ThingDescription<'t>) -> ThingDescription<'t> {
        td.with_forms_first(&self.0).documented_as(self.0.scheme())
    }
}

impl BoundBinding for Bound {
    fn event_sink(&self) -> Option<Arc<dyn EventSink>> {
        Some(Arc::new(sse::HubSink(Arc::clone(&self.hub))))
    }

    fn describer(&self) -> Option<(&'static str, Arc<dyn Describe>)> {
        Some((NAME, Arc::new(Forms(self.forms.clone()))))
    }

    fn base_url(&self) -> Option<String> {
        Some(self.base.clone())
    }

    fn serve(self: Box<Self>, core: Arc<Core>, control: Control) -> Vec<tokio::task::JoinHandle<()>> {
        let Bound { listener, local, base, forms, options, hub, tls } = *self;
        tracing::info!(server = %core.server_id(), %base, "serving over HTTP");
        let directory = options.directory.enabled;
        let shared = handler::Shared::new(core, forms, options, hub, control.shutdown.clone());
        let mut tasks = Vec::new();
        if directory {
            tasks.push(tokio::spawn(directory::purge_loop(Arc::clone(&shared), control.shutdown.clone())));
        }
        tasks.push(tokio::spawn(handler::accept_loop(listener, local, tls, shared, control)));
        tasks
    }
}
