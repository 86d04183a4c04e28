//! The HTTP binding's settings on the server builder.

use std::path::PathBuf;
use std::time::Duration;

use super::{DirectoryOptions, HttpAuth, Spec};
use crate::ServerBuilder;

/// How the HTTP binding answers and what it admits. Set with [`ServerBuilder::http_options`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Answer errors as hololinked 0.4.2's HTTP server does: status `200` with the error body (and `408` for
    /// timeouts), so that hololinked's `ClientFactory.http` raises the typed Python exception (`ValueError`…).
    /// Off by default: errors get their status code (400, 404, 405, 500, 503, 504), which standard clients
    /// (node-wot, curl, browsers) need to see a refusal as one.
    pub hololinked_errors: bool,
    /// Largest accepted request body; a larger one gets `413`. Default 64 MiB.
    pub max_body: usize,
    /// Most event streams (Server-Sent Events) open at once on the server; a stream beyond it gets `503`.
    /// Default 1024.
    pub max_event_streams: usize,
    /// How long a client may take to send a request's headers (slow-loris protection). Default 10 s.
    pub header_read_timeout: Duration,
    /// Origins allowed to call the server from a browser page (CORS); `["*"]` allows any. Default none
    /// (same-origin only).
    pub cors_origins: Vec<String>,
    /// Requests still waiting to be collected after `noblock`; more get `503`. Default 10 000. A result not
    /// collected within `noblock_keep` is dropped.
    pub max_noblock: usize,
    /// How long a `noblock` result is kept for collection. Default 10 min.
    pub noblock_keep: Duration,
    /// Who may use the server: HTTP Basic users and bearer tokens ([`HttpAuth`]); the TDs say so. Default
    /// none: anyone on the network may.
    pub auth: Option<HttpAuth>,
    /// Serve HTTPS: TLS (rustls) with this certificate chain and private key. Default none (plain HTTP).
    pub tls: Option<HttpTls>,
    /// Serve the web panel: the list of Things at `/` and a panel generated from each Thing's description at
    /// `/<thing>/` (see the guide's section "The web panel"). Default on.
    pub panel: bool,
    /// The W3C WoT Thing Description Directory at `/things` and `/.well-known/wot` (see the guide's section
    /// "A Thing Directory"). Default: on, listing the server's own Things, accepting no registrations.
    pub directory: DirectoryOptions,
}

/// The certificate chain and private key of an HTTPS server, as PEM files.
#[derive(Debug, Clone)]
pub struct HttpTls {
    /// The certificate chain (the server's certificate first), PEM.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key: PathBuf,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            hololinked_errors: false,
            max_body: 64 << 20,
            max_event_streams: 1024,
            header_read_timeout: Duration::from_secs(10),
            cors_origins: Vec::new(),
            max_noblock: 10_000,
            noblock_keep: Duration::from_secs(600),
            auth: None,
            tls: None,
            panel: true,
            directory: DirectoryOptions::default(),
        }
    }
}

impl ServerBuilder {
    /// The HTTP binding's settings (added on first use).
    fn http_spec(&mut self) -> &mut Spec {
        self.binding_mut::<Spec>()
    }

    /// Serves over HTTP on `address` (`host:port`; port 0 picks a free port): HTTP/1.1 and HTTP/2 without TLS
    /// (h2c) on one port, with the routes of hololinked 0.4.2's HTTP server — `GET`/`PUT /<thing>/<property>`,
    /// `POST /<thing>/<action>`, Server-Sent Events at `GET /<thing>/<event>` and
    /// `GET /<thing>/<property>/change-event`, `GET /<thing>/resources/wot-td` — beside the server's other
    /// bindings. See the guide's section "Serving over HTTP".
    pub fn http(mut self, address: impl Into<String>) -> Self {
        self.http_spec().address = Some(address.into());
        self
    }

    /// How the HTTP binding answers and what it admits (see [`HttpOptions`]).
    pub fn http_options(mut self, options: HttpOptions) -> Self {
        self.http_spec().options = options;
        self
    }
}
