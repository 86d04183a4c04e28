//! Authentication and encryption on TCP, through ZeroMQ's own security: ZAP (RFC 27) with the PLAIN
//! (RFC 24) or CURVE (RFC 26) mechanism, and an IP address allow-list.
//!
//! ```no_run
//! # use thingwire::{Server, Thing};
//! # async fn run(thing: impl Thing) -> Result<(), thingwire::ServerError> {
//! use thingwire::auth::Auth;
//! Server::builder("lab")
//!     .thing(thing)
//!     .tcp("0.0.0.0:5555")
//!     .authentication(Auth::plain([("alice", "correct horse")]).allow_ips(["127.0.0.1", "10.1.0.0/16"]))
//!     .serve()
//!     .await
//! # }
//! ```
//!
//! and on the client side:
//!
//! ```no_run
//! # async fn demo() -> Result<(), thingwire::ClientError> {
//! use thingwire::{Client, ConnectOptions, auth::Credentials};
//! let options = ConnectOptions { credentials: Credentials::plain("alice", "correct horse"), ..Default::default() };
//! let client = Client::connect_with("tcp://lab-pc:5555", options).await?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! How it works: the server's TCP sockets (requests and events) get a ZAP domain of their own and the
//! mechanism's server options; a ZAP handler — one thread per ZeroMQ context, bound to
//! `inproc://zeromq.zap.01` — checks every new TCP connection against the server's [`Auth`] before libzmq
//! lets a single message through. A refused peer gets a ZMTP `ERROR` and is disconnected: it never reaches
//! the socket loop. IPC and INPROC are not covered: IPC is guarded by the socket files' permissions, INPROC
//! never leaves the process. See `docs/security.md` for the threat model.
//!
//! The same handler enforces [`ServerBuilder::max_subscribers`](crate::ServerBuilder::max_subscribers): every
//! TCP and IPC event socket has a ZAP domain of its own (with the server's rules on TCP, none on IPC), whose
//! connections a socket monitor counts.
//!
//! PLAIN sends the password in clear text: use it on a network you trust, inside a VPN or an SSH tunnel, or
//! use CURVE, which encrypts and authenticates both ends — when the libzmq build has it
//! ([`curve_available`]; the libzmq that `zmq-sys` builds from source by default has no libsodium, so no
//! CURVE: `docs/security.md` says how to link Debian's libzmq instead).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::error::ServerError;
use crate::td::SecurityScheme;

/// The ZAP endpoint libzmq sends its authentication requests to, one per context (RFC 27).
const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";
/// A second endpoint our handler binds, so that a later server can tell our handler from someone else's.
const MARKER_ENDPOINT: &str = "inproc://thingwire.zap-handler";

/// Whether this process's libzmq can do CURVE (it needs libsodium or tweetnacl at build time).
pub fn curve_available() -> bool {
    zmq::has("curve").unwrap_or(false)
}

/// Why a security setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// CURVE was asked for, but libzmq was built without it.
    #[error(
        "CURVE is not available: this libzmq was built without libsodium (zmq::has(\"curve\") is false). \
         Link a libzmq that has it — e.g. Debian's: `apt-get install libzmq3-dev` and build with \
         `--config 'target.x86_64-unknown-linux-gnu.zmq.rustc-link-lib=[\"zmq\"]'` (see docs/security.md, \
         \"Getting CURVE\") — or use PLAIN inside a VPN or SSH tunnel"
    )]
    CurveUnavailable,
    /// A CURVE key that is not a 40-character Z85 string of 32 bytes.
    #[error("invalid CURVE {what} `{key}`: {reason}")]
    InvalidKey {
        /// Which key.
        what: &'static str,
        /// The key as given (public keys only; secret keys are never echoed).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// A CURVE key pair, both keys Z85-encoded (40 characters each). `Debug` never shows the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    public: String,
    secret: String,
}

impl fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurveKeyPair").field("public", &self.public).field("secret", &"<redacted>").finish()
    }
}

impl CurveKeyPair {
    /// A new random key pair (libzmq's `zmq_curve_keypair`).
    pub fn generate() -> Result<Self, AuthError> {
        if !curve_available() {
            return Err(AuthError::CurveUnavailable);
        }
        let pair = zmq::CurveKeyPair::new().map_err(|_| AuthError::CurveUnavailable)?;
        let encode = |k: &[u8]| zmq::z85_encode(k).unwrap_or_default();
        Ok(Self { public: encode(&pair.public_key), secret: encode(&pair.secret_key) })
    }

    /// A key pair from its Z85 texts (as `zmq_curve_keypair` and `curve_keygen` print them).
    pub fn from_z85(public: impl Into<String>, secret: impl Into<String>) -> Result<Self, AuthError> {
        let (public, secret) = (public.into(), secret.into());
        decode_key("public key", &public, true)?;
        decode_key("secret key", &secret, false)?;
        Ok(Self { public, secret })
    }

    /// The public key (Z85): give it to the other side.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The secret key (Z85): keep it to yourself.
    pub fn secret_key(&self) -> &str {
        &self.secret
    }
}

fn decode_key(what: &'static str, key: &str, echo: bool) -> Result<[u8; 32], AuthError> {
    let invalid = |reason: &str| AuthError::InvalidKey {
        what,
        key: if echo { key.to_owned() } else { "<redacted>".to_owned() },
        reason: reason.to_owned(),
    };
    if key.len() != 40 {
        return Err(invalid("expected 40 Z85 characters (32 bytes)"));
    }
    let bytes = zmq::z85_decode(key).map_err(|_| invalid("not valid Z85 text"))?;
    bytes.try_into().map_err(|_| invalid("does not decode to 32 bytes"))
}

#[derive(Clone)]
enum Mechanism {
    Null,
    Plain(HashMap<String, String>),
    Curve { server: CurveKeyPair, clients: Option<HashSet<[u8; 32]>> },
}

/// What a server requires of TCP peers before it lets them send anything. Give it to
/// [`ServerBuilder::authentication`](crate::ServerBuilder::authentication).
///
/// * [`Auth::plain`] — ZeroMQ PLAIN: a username and password per client (sent in clear text!);
/// * [`Auth::curve`] — ZeroMQ CURVE: encrypted connections from clients whose public keys are listed;
/// * [`Auth::address_only`] — no credentials, only [`Auth::allow_ips`];
///
/// each combined, if wanted, with an IP allow-list ([`Auth::allow_ips`]).
#[derive(Clone)]
pub struct Auth {
    mechanism: Mechanism,
    allow_ips: Vec<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mechanism = match &self.mechanism {
            Mechanism::Null => "NULL".to_owned(),
            Mechanism::Plain(users) => {
                let mut names: Vec<&str> = users.keys().map(String::as_str).collect();
                names.sort_unstable();
                format!("PLAIN (users {names:?})")
            }
            Mechanism::Curve { server, clients } => format!(
                "CURVE (server key {}, {})",
                server.public,
                match clients {
                    Some(c) => format!("{} client keys", c.len()),
                    None => "any client".to_owned(),
                }
            ),
        };
        f.debug_struct("Auth").field("mechanism", &mechanism).field("allow_ips", &self.allow_ips).finish()
    }
}

impl Auth {
    /// PLAIN: every TCP client must present one of these `(username, password)` pairs. The password crosses
    /// the network in clear text: combine with a VPN or SSH tunnel, or use [`Auth::curve`].
    pub fn plain<I, U, P>(users: I) -> Self
    where
        I: IntoIterator<Item = (U, P)>,
        U: Into<String>,
        P: Into<String>,
    {
        let users = users.into_iter().map(|(u, p)| (u.into(), p.into())).collect();
        Self { mechanism: Mechanism::Plain(users), allow_ips: Vec::new() }
    }

    /// CURVE: connections are encrypted and the server proves its identity with `server_keys`; only clients
    /// whose public keys (Z85) are in `client_keys` get in. Fails when libzmq has no CURVE or a key is not
    /// valid.
    pub fn curve<I, S>(server_keys: CurveKeyPair, client_keys: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if !curve_available() {
            return Err(AuthError::CurveUnavailable);
        }
        let clients = client_keys
            .into_iter()
            .map(|k| decode_key("client public key", k.as_ref(), true))
            .collect::<Result<_, _>>()?;
        Ok(Self { mechanism: Mechanism::Curve { server: server_keys, clients: Some(clients) }, allow_ips: Vec::new() })
    }

    /// CURVE for encryption only: any client that knows the server's public key gets in (combine with
    /// [`Auth::allow_ips`], or use [`Auth::curve`] to name the clients).
    pub fn curve_any_client(server_keys: CurveKeyPair) -> Result<Self, AuthError> {
        if !curve_available() {
            return Err(AuthError::CurveUnavailable);
        }
        Ok(Self { mechanism: Mechanism::Curve { server: server_keys, clients: None }, allow_ips: Vec::new() })
    }

    /// No credentials: only the address allow-list decides (set it with [`Auth::allow_ips`]). Addresses can
    /// be spoofed on a shared segment; prefer PLAIN or CURVE as well.
    pub fn address_only() -> Self {
        Self { mechanism: Mechanism::Null, allow_ips: Vec::new() }
    }

    /// Accepts TCP connections only from these addresses: single IPs (`"127.0.0.1"`, `"::1"`) or networks
    /// in CIDR notation (`"10.1.0.0/16"`). An entry that is neither makes
    /// [`ServerBuilder::start`](crate::ServerBuilder::start) fail with [`ServerError::Address`]. Repeated
    /// calls add to the list; an empty list allows every address.
    pub fn allow_ips<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_ips.extend(entries.into_iter().map(Into::into));
        self
    }

    /// The mechanism's name as ZeroMQ says it: `NULL`, `PLAIN` or `CURVE`.
    pub fn mechanism(&self) -> &'static str {
        match self.mechanism {
            Mechanism::Null => "NULL",
            Mechanism::Plain(_) => "PLAIN",
            Mechanism::Curve { .. } => "CURVE",
        }
    }

    /// How a Thing Description describes this requirement.
    pub fn td_scheme(&self) -> SecurityScheme {
        let allow_list = !self.allow_ips.is_empty();
        match &self.mechanism {
            Mechanism::Null => SecurityScheme::NoSec { allow_list },
            Mechanism::Plain(_) => SecurityScheme::Basic { allow_list },
            Mechanism::Curve { server, .. } => SecurityScheme::Curve { server_key: server.public.clone(), allow_list },
        }
    }

    fn policy(&self, server_id: &str) -> Result<Policy, ServerError> {
        let allow = self
            .allow_ips
            .iter()
            .map(|entry| {
                IpNet::parse(entry).ok_or_else(|| ServerError::Address {
                    address: entry.clone(),
                    reason: "not an IP address or a CIDR network (e.g. `127.0.0.1`, `10.1.0.0/16`, `::1`) in the \
                             authentication allow-list"
                        .to_owned(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { server_id: server_id.to_owned(), mechanism: self.mechanism.clone(), allow, gate: None })
    }
}

/// What a client presents to a server that requires authentication (in
/// [`ConnectOptions::credentials`](crate::ConnectOptions::credentials)). Used on `tcp://` addresses only:
/// thingwire servers do not authenticate IPC and INPROC.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// None (ZeroMQ's NULL mechanism).
    #[default]
    None,
    /// PLAIN username and password.
    Plain {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// CURVE: the server's public key and this client's key pair.
    Curve {
        /// The server's public key (Z85), as the server's operator published it (also in the TD).
        server_key: String,
        /// This client's key pair; the server must list its public key.
        client: CurveKeyPair,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Plain { username, .. } => {
                f.debug_struct("Plain").field("username", username).field("password", &"<redacted>").finish()
            }
            Self::Curve { server_key, client } => {
                f.debug_struct("Curve").field("server_key", server_key).field("client", client).finish()
            }
        }
    }
}

impl Credentials {
    /// PLAIN credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Plain { username: username.into(), password: password.into() }
    }

    /// CURVE credentials; fails when libzmq has no CURVE or the server key is not valid.
    pub fn curve(server_key: impl Into<String>, client: CurveKeyPair) -> Result<Self, AuthError> {
        if !curve_available() {
            return Err(AuthError::CurveUnavailable);
        }
        let server_key = server_key.into();
        decode_key("server public key", &server_key, true)?;
        Ok(Self::Curve { server_key, client })
    }

    /// Sets the mechanism's client options on `socket` (before it connects).
    pub(crate) fn apply(&self, socket: &zmq::Socket) -> Result<(), String> {
        let fail = |what: &'static str| move |e: zmq::Error| format!("setting {what}: {e}");
        match self {
            Self::None => Ok(()),
            Self::Plain { username, password } => {
                socket.set_plain_username(Some(username)).map_err(fail("the PLAIN username"))?;
                socket.set_plain_password(Some(password)).map_err(fail("the PLAIN password"))
            }
            Self::Curve { server_key, client } => {
                if !curve_available() {
                    return Err(AuthError::CurveUnavailable.to_string());
                }
                let key = |what, k: &str, echo| decode_key(what, k, echo).map_err(|e| e.to_string());
                socket
                    .set_curve_serverkey(&key("server public key", server_key, true)?)
                    .map_err(fail("CURVE_SERVERKEY"))?;
                socket
                    .set_curve_publickey(&key("public key", &client.public, true)?)
                    .map_err(fail("CURVE_PUBLICKEY"))?;
                socket.set_curve_secretkey(&key("secret key", &client.secret, false)?).map_err(fail("CURVE_SECRETKEY"))
            }
        }
    }
}

/// An IP network: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpNet {
    address: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let address = canonical(address.trim_start_matches('[').trim_end_matches(']').parse().ok()?);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { address, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // The first `prefix` bits of `width`-bit addresses agree.
        let same_prefix = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.prefix);
            shift >= 128 || (a >> shift) == (b >> shift)
        };
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                same_prefix(u128::from(u32::from(net)), u128::from(u32::from(addr)), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => same_prefix(u128::from(net), u128::from(addr), 128),
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One server's rules, as the ZAP handler applies them.
struct Policy {
    server_id: String,
    mechanism: Mechanism,
    allow: Vec<IpNet>,
    /// For an event socket: the subscriber limit.
    gate: Option<Arc<SubscriberGate>>,
}

/// Counts the connections of one event (PUB) socket through a libzmq socket monitor, and refuses new ones
/// beyond a limit.
///
/// A thread reads the monitor's events for as long as the socket lives: libzmq sends them with blocking
/// sends from its I/O thread, so a monitor nobody reads (or whose reader is gone) would stall every socket of
/// the context. libzmq reports a connection as accepted before it asks ZAP about it; the ZAP handler waits
/// until the thread has counted as many accepted connections as it was asked about, so the count it decides
/// on includes the connection being decided.
struct SubscriberGate {
    limit: usize,
    counts: Mutex<GateCounts>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct GateCounts {
    /// Connections accepted and not yet disconnected (those still in their handshake included).
    open: usize,
    /// Connections accepted since the start.
    accepted: u64,
    /// ZAP requests since the start.
    asked: u64,
}

impl SubscriberGate {
    /// Starts monitoring `socket`'s connections (before it binds).
    fn start(context: &zmq::Context, socket: &zmq::Socket, limit: usize) -> Result<Arc<Self>, ServerError> {
        let err = |context: &'static str| move |source| ServerError::Zmq { context, source };
        let endpoint = format!("inproc://thingwire-monitor-{}", crate::util::random_hex(16));
        let events = zmq::SocketEvent::ACCEPTED as i32
            | zmq::SocketEvent::DISCONNECTED as i32
            | zmq::SocketEvent::MONITOR_STOPPED as i32;
        socket.monitor(&endpoint, events).map_err(err("monitoring the event socket"))?;
        let monitor = context.socket(zmq::PAIR).map_err(err("creating the event socket's monitor"))?;
        // No high-water mark: libzmq's I/O thread must never wait for this reader.
        monitor.set_rcvhwm(0).map_err(err("setting RCVHWM on the monitor"))?;
        monitor.set_linger(0).map_err(err("setting LINGER on the monitor"))?;
        monitor.connect(&endpoint).map_err(err("connecting the event socket's monitor"))?;
        let gate = Arc::new(Self { limit, counts: Mutex::new(GateCounts::default()), changed: Default::default() });
        let counting = Arc::clone(&gate);
        std::thread::Builder::new()
            .name("thingwire-subscribers".into())
            .spawn(move || counting.count(&monitor))
            .map_err(|_| ServerError::Zmq { context: "starting the subscriber counter", source: zmq::Error::ENOMEM })?;
        Ok(gate)
    }

    /// Counts connections until the socket is closed (libzmq then sends `MONITOR_STOPPED`).
    fn count(&self, monitor: &zmq::Socket) {
        while let Ok(frames) = monitor.recv_multipart(0) {
            // Frame 1: the event number (u16) and a value (u32), little-endian; frame 2: the endpoint.
            let Some(event) = frames.first().and_then(|f| f.get(..2)) else { continue };
            let event = u16::from_le_bytes([event[0], event[1]]);
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            if event == zmq::SocketEvent::ACCEPTED as u16 {
                counts.open += 1;
                counts.accepted += 1;
            } else if event == zmq::SocketEvent::DISCONNECTED as u16 {
                counts.open = counts.open.saturating_sub(1);
            } else if event == zmq::SocketEvent::MONITOR_STOPPED as u16 {
                return;
            }
            drop(counts);
            self.changed.notify_all();
        }
    }

    /// Numbers a ZAP request (every one, refused or not: each comes after its connection's `ACCEPTED`).
    fn ask(&self) -> u64 {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.asked += 1;
        counts.asked
    }

    /// Whether the connection of ZAP request number `asked` fits, and how many are open with it.
    fn admits(&self, asked: u64) -> (bool, usize) {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded, in case libzmq ever asks about a connection it did not report.
        let (counts, _) = self
            .changed
            .wait_timeout_while(counts, std::time::Duration::from_secs(1), |c| c.accepted < asked)
            .unwrap_or_else(|p| p.into_inner());
        (counts.open <= self.limit, counts.open)
    }
}

/// The ZAP domains of running servers → their rules. A domain not listed here is refused, so a socket that
/// outlives its server lets nobody in.
fn policies() -> &'static RwLock<HashMap<String, Arc<Policy>>> {
    static POLICIES: OnceLock<RwLock<HashMap<String, Arc<Policy>>>> = OnceLock::new();
    POLICIES.get_or_init(Default::default)
}

/// A server's registration with the ZAP handler of its context; dropping it withdraws the server's rules.
pub(crate) struct ZapDomain {
    domain: String,
    mechanism: Mechanism,
}

impl fmt::Debug for ZapDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZapDomain").field("domain", &self.domain).finish_non_exhaustive()
    }
}

impl ZapDomain {
    /// Checks `auth`, makes sure `context` has our ZAP handler, and registers the server's rules under a ZAP
    /// domain of its own.
    pub(crate) fn register(context: &zmq::Context, server_id: &str, auth: &Auth) -> Result<Self, ServerError> {
        let policy = policy_checked(auth, server_id)?;
        ensure_handler(context)?;
        Ok(Self::insert(server_id, policy))
    }

    /// A domain for one event socket (TCP or IPC): `auth`'s rules when given, and at most `limit`
    /// connections, counted by a monitor on `socket` (call before it binds, then [`ZapDomain::apply`]).
    /// `Ok(None)` when the context has someone else's ZAP handler and no `auth` is asked for: the limit is
    /// then not enforced (a warning says so) rather than handing that handler our connections.
    pub(crate) fn register_events(
        context: &zmq::Context,
        server_id: &str,
        auth: Option<&Auth>,
        socket: &zmq::Socket,
        limit: usize,
    ) -> Result<Option<Self>, ServerError> {
        let mut policy = match auth {
            Some(auth) => policy_checked(auth, server_id)?,
            None => {
                Policy { server_id: server_id.to_owned(), mechanism: Mechanism::Null, allow: Vec::new(), gate: None }
            }
        };
        match ensure_handler(context) {
            Ok(()) => {}
            Err(ServerError::Address { reason, .. }) if auth.is_none() => {
                tracing::warn!(server = server_id, "the subscriber limit is not enforced: {reason}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        policy.gate = Some(SubscriberGate::start(context, socket, limit)?);
        Ok(Some(Self::insert(server_id, policy)))
    }

    fn insert(server_id: &str, policy: Policy) -> Self {
        let domain = format!("thingwire/{server_id}/{}", crate::util::random_hex(16));
        let mechanism = policy.mechanism.clone();
        policies().write().unwrap_or_else(|p| p.into_inner()).insert(domain.clone(), Arc::new(policy));
        Self { domain, mechanism }
    }

    /// Sets the ZAP domain and the mechanism's server options on a socket (before it binds).
    pub(crate) fn apply(&self, socket: &zmq::Socket) -> Result<(), ServerError> {
        let err = |context: &'static str| move |source| ServerError::Zmq { context, source };
        socket.set_zap_domain(&self.domain).map_err(err("setting ZAP_DOMAIN"))?;
        match &self.mechanism {
            Mechanism::Null => Ok(()),
            Mechanism::Plain(_) => socket.set_plain_server(true).map_err(err("setting PLAIN_SERVER")),
            Mechanism::Curve { server, .. } => {
                let secret = decode_key("secret key", &server.secret, false).map_err(|_| ServerError::Zmq {
                    context: "decoding the CURVE secret key",
                    source: zmq::Error::EINVAL,
                })?;
                socket.set_curve_server(true).map_err(err("setting CURVE_SERVER"))?;
                socket.set_curve_secretkey(&secret).map_err(err("setting CURVE_SECRETKEY"))
            }
        }
    }
}

impl Drop for ZapDomain {
    fn drop(&mut self) {
        policies().write().unwrap_or_else(|p| p.into_inner()).remove(&self.domain);
    }
}

fn policy_checked(auth: &Auth, server_id: &str) -> Result<Policy, ServerError> {
    if matches!(auth.mechanism, Mechanism::Curve { .. }) && !curve_available() {
        return Err(ServerError::Zmq {
            context: "enabling CURVE (libzmq was built without it)",
            source: zmq::Error::ENOTSUP,
        });
    }
    let policy = auth.policy(server_id)?;
    if matches!(policy.mechanism, Mechanism::Null) && policy.allow.is_empty() {
        tracing::warn!(server = server_id, "Auth::address_only() without allow_ips: every address is allowed");
    }
    Ok(policy)
}

/// Binds our ZAP handler in `context` unless it is there already. One handler serves every server of the
/// context; it lives as long as the process (a context that ever used authentication is kept alive by it).
fn ensure_handler(context: &zmq::Context) -> Result<(), ServerError> {
    static STARTING: Mutex<()> = Mutex::new(());
    let _serialized = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    let err = |context: &'static str| move |source| ServerError::Zmq { context, source };
    let socket = context.socket(zmq::REP).map_err(err("creating the ZAP handler socket"))?;
    socket.set_linger(0).map_err(err("setting LINGER on the ZAP handler"))?;
    match socket.bind(ZAP_ENDPOINT) {
        Ok(()) => {}
        Err(zmq::Error::EADDRINUSE) => {
            // Someone serves ZAP in this context already: ours, or another library's?
            let probe = context.socket(zmq::PAIR).map_err(err("creating a probe socket"))?;
            return match probe.bind(MARKER_ENDPOINT) {
                Err(zmq::Error::EADDRINUSE) => Ok(()),
                _ => Err(ServerError::Address {
                    address: ZAP_ENDPOINT.to_owned(),
                    reason: "another ZAP handler (not thingwire's) is bound in this ZeroMQ context; give the server \
                             a context of its own with ServerBuilder::context(zmq::Context::new())"
                        .to_owned(),
                }),
            };
        }
        Err(e) => return Err(err("binding the ZAP handler to inproc://zeromq.zap.01")(e)),
    }
    socket.bind(MARKER_ENDPOINT).map_err(err("binding the ZAP handler's marker endpoint"))?;
    std::thread::Builder::new()
        .name("thingwire-zap".into())
        .spawn(move || serve_zap(socket))
        .map_err(|_| ServerError::Zmq { context: "starting the ZAP handler thread", source: zmq::Error::ENOMEM })?;
    Ok(())
}

/// The ZAP handler: answers libzmq's authentication requests, one at a time, forever.
fn serve_zap(socket: zmq::Socket) {
    loop {
        let frames = match socket.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::ETERM) => return,
            Err(e) => {
                tracing::warn!(error = %e, "the ZAP handler could not receive");
                continue;
            }
        };
        let reply = std::panic::catch_unwind(|| answer(&frames)).unwrap_or_else(|_| {
            let id = frames.get(1).cloned().unwrap_or_default();
            zap_reply(id, "500", "internal error in the ZAP handler", "")
        });
        if let Err(e) = socket.send_multipart(reply, 0) {
            tracing::warn!(error = %e, "the ZAP handler could not reply");
        }
    }
}

fn zap_reply(request_id: Vec<u8>, status: &str, text: &str, user: &str) -> Vec<Vec<u8>> {
    vec![b"1.0".to_vec(), request_id, status.into(), text.into(), user.into(), Vec::new()]
}

/// Decides one ZAP request: `[version, request id, domain, address, identity, mechanism, credentials…]`.
fn answer(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let request_id = frames.get(1).cloned().unwrap_or_default();
    if frames.len() < 6 || frames[0] != b"1.0" {
        return zap_reply(request_id, "500", "malformed ZAP request", "");
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (domain, address, mechanism) = (text(&frames[2]), text(&frames[3]), text(&frames[5]));
    let credentials = &frames[6..];
    let Some(policy) = policies().read().unwrap_or_else(|p| p.into_inner()).get(&domain).cloned() else {
        tracing::warn!(%domain, %address, "connection refused: its server is no longer running");
        return zap_reply(request_id, "400", "no such server", "");
    };
    let asked = policy.gate.as_ref().map(|gate| gate.ask());
    let refuse = |why: &str, who: &str| {
        tracing::warn!(server = %policy.server_id, %address, mechanism = %mechanism, user = who, "connection refused: {why}");
        zap_reply(request_id.clone(), "400", why, "")
    };
    if !policy.allow.is_empty() {
        let ip = address.trim_start_matches('[').split(['%', ']']).next().and_then(|a| a.parse::<IpAddr>().ok());
        if !ip.is_some_and(|ip| policy.allow.iter().any(|net| net.contains(ip))) {
            return refuse("address not allowed", "");
        }
    }
    let user = match (&policy.mechanism, mechanism.as_str(), credentials) {
        (Mechanism::Null, "NULL", _) => String::new(),
        (Mechanism::Plain(users), "PLAIN", [username, password, ..]) => {
            let name = text(username);
            let known = users.get(&name).is_some_and(|expected| constant_time_eq(expected.as_bytes(), password));
            if !known {
                return refuse("invalid username or password", &name);
            }
            name
        }
        (Mechanism::Curve { clients, .. }, "CURVE", [key, ..]) => {
            let key: Option<[u8; 32]> = key.as_slice().try_into().ok();
            let z85 = key.and_then(|k| zmq::z85_encode(&k).ok()).unwrap_or_default();
            let allowed = match (clients, key) {
                (None, Some(_)) => true,
                (Some(list), Some(k)) => list.contains(&k),
                (_, None) => false,
            };
            if !allowed {
                return refuse("client key not authorized", &z85);
            }
            z85
        }
        _ => return refuse("unexpected mechanism", ""),
    };
    if let (Some(gate), Some(asked)) = (&policy.gate, asked) {
        // The connection being decided is among the open ones.
        let (fits, open) = gate.admits(asked);
        if !fits {
            tracing::warn!(server = %policy.server_id, %address, open, limit = gate.limit, "subscriber refused: the limit is reached");
            return zap_reply(request_id, "400", "subscriber limit reached", "");
        }
    }
    tracing::debug!(server = %policy.server_id, %address, %mechanism, %user, "connection authenticated");
    zap_reply(request_id, "200", "OK", &user)
}

/// Compares without stopping at the first difference, so timing does not reveal how much of a password
/// was right (its length may still show).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        IpNet::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("{s} is an IP"))
    }

    #[test]
    fn allow_list_entries_match_addresses_and_networks() {
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("10.1.0.0/16").contains(ip("10.1.200.3")));
        assert!(!net("10.1.0.0/16").contains(ip("10.2.0.1")));
        assert!(net("0.0.0.0/0").contains(ip("192.168.1.1")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")), "families never mix");
        assert!(net("::1").contains(ip("::1")));
        assert!(net("fe80::/10").contains(ip("fe80::1234")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")), "v4-mapped addresses count as IPv4");
        assert!(net("[::1]").contains(ip("::1")));
        for bad in ["localhost", "10.0.0.0/33", "1.2.3", "::1/129", "", "10.0.0.0/x"] {
            assert!(IpNet::parse(bad).is_none(), "{bad} must be refused");
        }
    }

    #[test]
    fn zap_requests_are_decided_by_the_policy() {
        let auth = Auth::plain([("alice", "secret")]).allow_ips(["127.0.0.0/8"]);
        let domain = format!("test/{}", crate::util::random_hex(8));
        let policy = auth.policy("unit").expect("valid");
        policies().write().expect("lock").insert(domain.clone(), Arc::new(policy));
        let request = |address: &str, mechanism: &str, creds: &[&[u8]]| {
            let mut frames: Vec<Vec<u8>> = vec![
                b"1.0".to_vec(),
                b"7".to_vec(),
                domain.clone().into_bytes(),
                address.into(),
                b"peer".to_vec(),
                mechanism.into(),
            ];
            frames.extend(creds.iter().map(|c| c.to_vec()));
            let reply = answer(&frames);
            assert_eq!(reply[1], b"7", "the request id is echoed");
            (String::from_utf8(reply[2].clone()).expect("utf8"), String::from_utf8(reply[4].clone()).expect("utf8"))
        };
        assert_eq!(request("127.0.0.1", "PLAIN", &[b"alice", b"secret"]), ("200".into(), "alice".into()));
        assert_eq!(request("127.0.0.1", "PLAIN", &[b"alice", b"wrong"]).0, "400");
        assert_eq!(request("127.0.0.1", "PLAIN", &[b"bob", b"secret"]).0, "400");
        assert_eq!(request("10.0.0.1", "PLAIN", &[b"alice", b"secret"]).0, "400", "outside the allow-list");
        assert_eq!(request("127.0.0.1", "NULL", &[]).0, "400", "wrong mechanism");
        assert_eq!(answer(&[b"2.0".to_vec(), b"1".to_vec()])[2], b"500");
        policies().write().expect("lock").remove(&domain);
        assert_eq!(request("127.0.0.1", "PLAIN", &[b"alice", b"secret"]).0, "400", "a withdrawn server lets nobody in");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = Credentials::plain("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let a = Auth::plain([("alice", "hunter2")]);
        assert!(!format!("{a:?}").contains("hunter2"));
    }

    #[test]
    fn curve_is_refused_clearly_when_libzmq_lacks_it() {
        if curve_available() {
            let keys = CurveKeyPair::generate().expect("keys");
            assert_eq!(keys.public_key().len(), 40);
            assert!(Auth::curve(keys.clone(), [keys.public_key()]).is_ok());
            assert!(matches!(Auth::curve(keys, ["short"]), Err(AuthError::InvalidKey { .. })));
        } else {
            assert_eq!(CurveKeyPair::generate(), Err(AuthError::CurveUnavailable));
            let msg = AuthError::CurveUnavailable.to_string();
            assert!(msg.contains("libsodium") && msg.contains("docs/security.md"), "{msg}");
        }
    }
}
