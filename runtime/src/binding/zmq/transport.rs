//! Transports and addresses: TCP, IPC and INPROC, where each binds its request ROUTER and its event PUB
//! socket, and the process-wide ZeroMQ context.
//!
//! The addresses follow hololinked 0.4 so its clients find a thingwire server the way they find a Python
//! one:
//!
//! | transport | requests | events |
//! |---|---|---|
//! | TCP | the given address | the same host, request port + 1 |
//! | IPC | `ipc://<dir>/<safe(id)>.ipc`, `<dir>` = `~/.hololinked/sockets` | `ipc://<dir>/<safe(id)>.event-publisher.ipc` |
//! | INPROC | `inproc://<id>` | `inproc://<id>/event-publisher` |

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokio::io::unix::AsyncFd;

use crate::error::ServerError;

/// The process-wide ZeroMQ context that servers and clients use unless given another. INPROC only works
/// between sockets of one context.
pub fn context() -> &'static zmq::Context {
    static CONTEXT: OnceLock<zmq::Context> = OnceLock::new();
    CONTEXT.get_or_init(zmq::Context::new)
}

/// A transport a server listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP on `host:port` (port 0 picks a free port; events use port + 1).
    Tcp(String),
    /// IPC (Unix domain sockets) in a directory (`None`: `~/.hololinked/sockets`, where hololinked looks).
    Ipc(Option<PathBuf>),
    /// In-process, within one ZeroMQ context.
    Inproc,
}

/// The protocol name hololinked uses for a transport (`TCP`, `IPC`, `INPROC`), as in
/// `get_thing_description(protocol=…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `TCP`.
    Tcp,
    /// `IPC`.
    Ipc,
    /// `INPROC`.
    Inproc,
}

impl Protocol {
    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Ipc => "IPC",
            Self::Inproc => "INPROC",
        }
    }

    /// Parses `TCP`/`IPC`/`INPROC` in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Self::Tcp),
            "IPC" => Some(Self::Ipc),
            "INPROC" => Some(Self::Inproc),
            _ => None,
        }
    }

    /// The protocol of a ZeroMQ address such as `tcp://host:5555`.
    pub fn of_address(address: &str) -> Option<Self> {
        let scheme = address.split("://").next()?;
        Self::parse(scheme)
    }
}

/// The addresses one transport is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundAddresses {
    /// The protocol.
    pub protocol: Protocol,
    /// What the request ROUTER is bound to, e.g. `tcp://0.0.0.0:5555`.
    pub requests: String,
    /// What the event PUB is bound to.
    pub events: String,
    /// The request address a client connects to (host name instead of `0.0.0.0`/`*`).
    pub request_href: String,
    /// The event address a client connects to.
    pub event_href: String,
}

/// hololinked's `safe(id)`: runs of `< > : " / \ | ? *` and control characters become one `_`, and leading
/// and trailing `_` are stripped.
pub fn safe_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        let bad = matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*') || c.is_control();
        let c = if bad { '_' } else { c };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('_').to_owned()
}

/// Where hololinked keeps its IPC sockets: `$HOME/.hololinked/sockets` (or the system temp directory when
/// there is no home).
pub fn default_ipc_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".hololinked").join("sockets")
}

/// The IPC request and event paths for `server_id` in `dir`.
pub fn ipc_paths(dir: &Path, server_id: &str) -> (PathBuf, PathBuf) {
    let safe = safe_name(server_id);
    (dir.join(format!("{safe}.ipc")), dir.join(format!("{safe}.event-publisher.ipc")))
}

/// A TCP bind address split into host and port. Accepts `host:port`, `tcp://host:port`, `*:port`.
pub(crate) fn parse_tcp(address: &str) -> Result<(String, u16), ServerError> {
    let bare = address.strip_prefix("tcp://").unwrap_or(address);
    let err = |reason: &str| ServerError::Address { address: address.to_owned(), reason: reason.to_owned() };
    let (host, port) =
        bare.rsplit_once(':').ok_or_else(|| err("expected host:port, e.g. 127.0.0.1:5555 or 0.0.0.0:5555"))?;
    let port: u16 = port.parse().map_err(|_| err("the port is not a number from 0 to 65535"))?;
    if host.is_empty() {
        return Err(err("the host is empty; use 0.0.0.0 or * for every interface"));
    }
    if port == u16::MAX {
        return Err(err("port 65535 leaves no room for the event port (request port + 1)"));
    }
    Ok((host.to_owned(), port))
}

/// The host a client should use for a bound TCP host: the machine's name for wildcard binds.
pub(crate) fn href_host(host: &str) -> String {
    if host == "*" || host == "0.0.0.0" || host == "::" || host == "[::]" {
        hostname().unwrap_or_else(|| "localhost".to_owned())
    } else {
        host.to_owned()
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Whether a live server answers on the Unix socket at `path` (a leftover file from a crash does not).
pub(crate) fn ipc_in_use(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// libzmq's error type, for the ZeroMQ variants of [`ServerError`].
pub type ZmqError = zmq::Error;

/// A ZeroMQ socket's `ZMQ_FD`, registered with tokio for readability: the one integration of libzmq with
/// the reactor, for the server's sockets and the client's alike. libzmq owns (and closes) the descriptor.
///
/// `ZMQ_FD` only signals that something changed (and a send may consume the signal), so every wait must be
/// preceded by a non-blocking read or send attempt, which also processes libzmq's pending commands.
pub(crate) struct SocketFd(RawFd);

impl SocketFd {
    /// Registers `socket`'s descriptor. The deprecated safe constructor: its replacement is `unsafe`, which
    /// the runtime forbids. Sound as long as the `AsyncFd` is dropped before the socket (libzmq keeps the
    /// descriptor open until the socket closes): declare it before the socket in the struct that holds both.
    pub(crate) fn register(socket: &zmq::Socket) -> std::io::Result<AsyncFd<SocketFd>> {
        let fd = socket.get_fd().map_err(std::io::Error::from)?;
        #[allow(deprecated, reason = "the safe constructor, sound here: see above")]
        AsyncFd::with_interest(SocketFd(fd), tokio::io::Interest::READABLE)
    }
}

impl AsRawFd for SocketFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A ROUTER socket registered with tokio, read one frame at a time so that a message's frames beyond a limit
/// are dropped as they are read.
pub(crate) struct RouterSocket {
    /// Declared before the socket: deregistered before it closes.
    fd: AsyncFd<SocketFd>,
    socket: zmq::Socket,
}

/// What a message may hold before its further frames are dropped unread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadLimits {
    /// Frames kept per message.
    pub(crate) max_frames: usize,
    /// Bytes kept per message (all frames together).
    pub(crate) max_bytes: usize,
}

/// One message as read: the frames kept, and what the whole message had.
pub(crate) struct Incoming {
    /// The first three frames always (routing id, delimiter, header: each bounded by libzmq's `MAXMSGSIZE`),
    /// then frames while the message stays within [`ReadLimits`]. All of them when it did.
    pub(crate) frames: Vec<zmq::Message>,
    /// How many frames the message had.
    pub(crate) count: usize,
    /// How many bytes its frames had together.
    pub(crate) bytes: usize,
}

impl Incoming {
    /// Whether the message stayed within the limits (then `frames` holds all of it).
    pub(crate) fn within(&self, limits: ReadLimits) -> bool {
        self.count <= limits.max_frames && self.bytes <= limits.max_bytes
    }
}

impl RouterSocket {
    pub(crate) fn new(socket: zmq::Socket) -> Result<Self, ServerError> {
        let fd = SocketFd::register(&socket).map_err(|e| ServerError::Zmq {
            context: "registering the socket with tokio",
            source: e.raw_os_error().map_or(zmq::Error::EINVAL, zmq::Error::from_raw),
        })?;
        Ok(Self { fd, socket })
    }

    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// The next message. libzmq's `ZMQ_FD` only signals that something changed (and a send may consume the
    /// signal), so every wait is preceded by a non-blocking read, which also processes libzmq's pending
    /// commands: call it afresh after sending.
    pub(crate) async fn recv(&mut self, limits: ReadLimits) -> Result<Incoming, zmq::Error> {
        loop {
            if let Some(message) = self.try_recv(limits)? {
                return Ok(message);
            }
            // `&mut`: a zmq socket is `Send` but not `Sync`, so the future may hold only an exclusive borrow.
            let mut ready = self.fd.readable_mut().await.map_err(|_| zmq::Error::EINVAL)?;
            ready.clear_ready();
        }
    }

    fn try_recv(&self, limits: ReadLimits) -> Result<Option<Incoming>, zmq::Error> {
        let socket = self.socket();
        let mut first = zmq::Message::new();
        match socket.recv(&mut first, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut more = first.get_more();
        let mut incoming = Incoming { count: 1, bytes: first.len(), frames: Vec::with_capacity(5) };
        incoming.frames.push(first);
        while more {
            // The rest of a multipart message is always there once its first frame is.
            let mut frame = zmq::Message::new();
            socket.recv(&mut frame, zmq::DONTWAIT)?;
            more = frame.get_more();
            incoming.count += 1;
            incoming.bytes = incoming.bytes.saturating_add(frame.len());
            if incoming.count <= 3 || incoming.within(limits) {
                incoming.frames.push(frame);
            }
        }
        Ok(Some(incoming))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_match_hololinked() {
        assert_eq!(safe_name("scope-server"), "scope-server");
        assert_eq!(safe_name("a/b"), "a_b");
        assert_eq!(safe_name("lab/event-publisher"), "lab_event-publisher");
        assert_eq!(safe_name("<x>::y|"), "x_y");
        assert_eq!(safe_name("a__b"), "a_b");
    }

    #[test]
    fn ipc_paths_follow_hololinked() {
        let (req, ev) = ipc_paths(Path::new("/h/.hololinked/sockets"), "lab");
        assert_eq!(req, Path::new("/h/.hololinked/sockets/lab.ipc"));
        assert_eq!(ev, Path::new("/h/.hololinked/sockets/lab.event-publisher.ipc"));
    }

    #[test]
    fn tcp_addresses_parse_or_explain() {
        assert_eq!(parse_tcp("tcp://127.0.0.1:5555").expect("ok"), ("127.0.0.1".into(), 5555));
        assert_eq!(parse_tcp("*:0").expect("ok"), ("*".into(), 0));
        assert!(parse_tcp("localhost").expect_err("no port").to_string().contains("host:port"));
        assert!(parse_tcp("h:99999").expect_err("bad port").to_string().contains("port"));
        assert!(parse_tcp("h:65535").expect_err("no event port").to_string().contains("event port"));
    }
}
