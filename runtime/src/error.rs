//! Errors: what a Thing reports to its caller ([`ThingError`]), what the server reports to its user
//! ([`ServerError`]), and what a client call can end with ([`ClientError`]).

use std::fmt;
use std::time::Duration;

use crate::protocol::{ErrorObject, ProtocolError, TimeoutKind};

/// An error raised by a Thing's code or by the runtime on its behalf; it becomes an `EXCEPTION` reply whose
/// `type` is [`ThingError::kind`] (a Python builtin exception name where one fits, so hololinked clients
/// raise a meaningful class).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingError {
    /// Exception class name, e.g. `ValueError`.
    pub kind: String,
    /// Human-readable message.
    pub message: String,
    /// Extra lines (hololinked's `notes`).
    pub notes: Option<Vec<String>>,
}

impl ThingError {
    /// An error of class `kind` with `message`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: kind.into(), message: message.into(), notes: None }
    }

    /// A value is out of range or otherwise not acceptable (`ValueError`).
    pub fn value_error(message: impl Into<String>) -> Self {
        Self::new("ValueError", message)
    }

    /// A value has the wrong type, or arguments do not fit (`TypeError`).
    pub fn type_error(message: impl Into<String>) -> Self {
        Self::new("TypeError", message)
    }

    /// A name is unknown (`KeyError`).
    pub fn key_error(message: impl Into<String>) -> Self {
        Self::new("KeyError", message)
    }

    /// An attribute cannot be set or read (`AttributeError`).
    pub fn attribute_error(message: impl Into<String>) -> Self {
        Self::new("AttributeError", message)
    }

    /// The operation is not supported (`NotImplementedError`).
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new("NotImplementedError", message)
    }

    /// Anything else that went wrong at run time (`RuntimeError`).
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new("RuntimeError", message)
    }

    /// A user error value: the class is the error type's name (the last path segment), the message is its
    /// `Display` text.
    pub fn from_user_error<E: fmt::Display + ?Sized>(error: &E) -> Self {
        let full = std::any::type_name::<E>();
        let base = full.split('<').next().unwrap_or(full);
        let kind = base.rsplit("::").next().unwrap_or(base);
        Self::new(kind, error.to_string())
    }

    /// Adds a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.get_or_insert_with(Vec::new).push(note.into());
        self
    }

    /// The wire error object, with a traceback naming `origin`.
    pub fn to_error_object(&self, origin: &str) -> ErrorObject {
        let mut object = ErrorObject::new(self.kind.clone(), self.message.clone(), origin);
        object.notes = self.notes.clone();
        object
    }
}

impl fmt::Display for ThingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl From<ProtocolError> for ThingError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::UnsupportedContentType(_) => Self::value_error(e.to_string()),
            ProtocolError::Payload { .. } => Self::new("DecodeError", e.to_string()),
            _ => Self::value_error(e.to_string()),
        }
    }
}

impl From<erased_serde::Error> for ThingError {
    fn from(e: erased_serde::Error) -> Self {
        Self::type_error(e.to_string())
    }
}

/// Errors while building, starting or running a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Two Things with the same id.
    #[error("thing id `{0}` is served twice; every Thing on a server needs its own id")]
    DuplicateThing(String),
    /// Two places serve a Thing of the same id: two backends of a gateway, or a backend and a local Thing.
    #[error(
        "thing id `{id}` is served by {first} and by {second}; a gateway serves each id once: serve only one of          them (`Backend::things([...])` names the Things to take from a backend)"
    )]
    ThingIdClash {
        /// The id.
        id: String,
        /// Where it was found first (`backend tcp://…` or `this server`).
        first: String,
        /// Where it was found again.
        second: String,
    },
    /// A backend of a gateway could not be used.
    #[error("backend `{address}`: {message}")]
    Backend {
        /// Its address.
        address: String,
        /// What went wrong, and what to do.
        message: String,
    },
    /// A Thing id or server id that cannot be used.
    #[error("invalid id `{id}`: {reason}")]
    InvalidId {
        /// The id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// The server has no transport.
    #[error("the server has no binding to serve through; add one with .tcp(addr), .ipc(), .inproc() or .in_memory()")]
    NoTransport,
    /// A socket could not be bound.
    #[error("could not bind {what} to `{address}`: {source}{hint}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// The address tried.
        address: String,
        /// libzmq's error.
        source: crate::transport::ZmqError,
        /// What to do about it.
        hint: String,
    },
    /// An address that is not understood.
    #[error("invalid address `{address}`: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The IPC socket directory could not be created.
    #[error("could not create the IPC socket directory `{path}`: {source}")]
    IpcDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A libzmq call failed.
    #[error("ZeroMQ error while {context}: {source}")]
    Zmq {
        /// What the server was doing.
        context: &'static str,
        /// libzmq's error.
        source: crate::transport::ZmqError,
    },
    /// The MQTT broker could not be reached, or refused the server (its credentials, its client id).
    #[error("the MQTT broker `{broker}` {reason}")]
    Broker {
        /// The broker's URL (without credentials).
        broker: String,
        /// What happened, and what to do.
        reason: String,
    },
    /// An operating-system call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the server was doing.
        context: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// Errors of a client call.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server raised an exception (`EXCEPTION` reply).
    #[error("{}.{}: server raised {}: {}", .0.thing, .0.name, .0.kind, .0.message)]
    Remote(Box<RemoteError>),
    /// The server refused the message (`INVALID_MESSAGE` reply), e.g. for an unknown thing id.
    #[error("{thing}.{name}: the server refused the message ({kind}): {message}")]
    InvalidMessage {
        /// The Thing.
        thing: String,
        /// The property or action.
        name: String,
        /// The exception class the server named (hololinked says `KeyError` for an unknown thing).
        kind: String,
        /// The server's explanation.
        message: String,
    },
    /// The server's invocation or execution timeout expired (`TIMEOUT` reply).
    #[error("{thing}.{name}: {} timeout expired on the server", .kind.as_str())]
    ServerTimeout {
        /// The Thing.
        thing: String,
        /// The property or action.
        name: String,
        /// Which timeout.
        kind: TimeoutKind,
    },
    /// No reply arrived within the client-side deadline.
    #[error("{thing}.{name}: no reply from {address} within {timeout:?}; is the server running and reachable?")]
    Timeout {
        /// The Thing.
        thing: String,
        /// The property or action.
        name: String,
        /// The address.
        address: String,
        /// The deadline that expired.
        timeout: Duration,
    },
    /// The server did not answer the handshake.
    #[error("no handshake reply from {address} within {timeout:?}; is a thingwire or hololinked server running there?")]
    Unreachable {
        /// The address.
        address: String,
        /// How long the client tried.
        timeout: Duration,
    },
    /// A value could not be encoded or a reply could not be decoded.
    #[error("{0}")]
    Codec(String),
    /// The client is not connected right now (the server is not up, or the connection dropped and is being
    /// re-established); nothing was sent.
    #[error("not connected to {address}: the server is not up, or the connection dropped and is reconnecting")]
    Disconnected {
        /// The address.
        address: String,
    },
    /// The connection dropped while the call waited for its reply; the call may or may not have run.
    #[error("the connection to {address} was lost while waiting for the reply; the server may have stopped")]
    ConnectionLost {
        /// The address.
        address: String,
    },
    /// A name the Thing Description does not list (checked by [`crate::ThingClient`] before sending).
    #[error("{thing} has no {kind} `{name}`{}", match suggestion { Some(s) => format!(", did you mean `{s}`?"), None => format!(" (it has: {})", known.join(", ")) })]
    UnknownName {
        /// The Thing.
        thing: String,
        /// `property`, `action` or `event`.
        kind: String,
        /// The name asked for.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// The names the Thing has.
        known: Vec<String>,
    },
    /// A value that does not fit the Thing Description's schema (checked before sending).
    #[error("{thing}.{name}: {reason}")]
    InvalidInput {
        /// The Thing.
        thing: String,
        /// The property or action.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The connection task is gone (the client was shut down).
    #[error("the connection to {address} is closed")]
    Closed {
        /// The address.
        address: String,
    },
    /// The server refused this client during the security handshake of its connection (ZeroMQ
    /// authentication on TCP: PLAIN credentials, CURVE keys, an IP allow-list); nothing was sent. Retrying with
    /// the same [`crate::ConnectOptions::credentials`] from the same address fails the same way.
    #[error("{address} refused the connection: {reason}")]
    Unauthorized {
        /// The address.
        address: String,
        /// What was wrong, and what to change.
        reason: AuthRefusal,
    },
    /// A libzmq call failed.
    #[error("ZeroMQ error while {context}: {message}")]
    Zmq {
        /// What the client was doing.
        context: String,
        /// libzmq's error.
        message: String,
    },
}

/// Why a server refused a client's connection ([`ClientError::Unauthorized`]), from libzmq's report of the
/// failed security handshake. Its `Display` says what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthRefusal {
    /// The server's authentication handler said no (its ZAP status code, 400 for thingwire servers): a wrong
    /// username or password, a CURVE public key the server does not list, or an address outside its
    /// allow-list. The server logs which, at `WARN`.
    Refused {
        /// The ZAP status code (RFC 27): 400 refused, 300 try again later, 500 internal error.
        status: u32,
    },
    /// The server wants credentials the client does not present (PLAIN or CURVE), or wants none and the client
    /// presents some: the two sides use different security mechanisms.
    MechanismMismatch,
    /// The CURVE handshake failed cryptographically: the server's public key given to the client is not the
    /// server's.
    CurveKey,
    /// Another ZMTP protocol error during the security handshake (libzmq's `ZMQ_PROTOCOL_ERROR_*` code).
    Protocol {
        /// The protocol error code.
        code: u32,
    },
    /// The security handshake failed and libzmq gave no detail (an errno).
    NoDetail {
        /// The errno.
        errno: u32,
    },
}

impl fmt::Display for AuthRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { status } => write!(
                f,
                "its authentication refused this client (ZAP status {status}): a wrong username or password, a CURVE \
                 public key it does not list, or an address outside its allow-list; check \
                 ConnectOptions::credentials, and whether this machine's address is on the server's allow-list \
                 (a subscription is also refused so when the server's event socket has as many subscribers as it \
                 admits, ServerBuilder::max_subscribers: close unused subscriptions or raise the limit)"
            ),
            Self::MechanismMismatch => f.write_str(
                "the server and this client use different security mechanisms: the server requires credentials \
                 (PLAIN or CURVE) that were not given in ConnectOptions::credentials, or it requires none and some \
                 were given; set ConnectOptions::credentials to what the server's Thing Description asks for",
            ),
            Self::CurveKey => f.write_str(
                "the CURVE handshake failed: the server public key given to Credentials::curve is not this \
                 server's (its Thing Description lists it as `tw:serverKey`)",
            ),
            Self::Protocol { code } => write!(
                f,
                "the ZMTP security handshake failed (protocol error {code:#x}); check that the client's credentials \
                 use the mechanism the server expects"
            ),
            Self::NoDetail { errno } => write!(
                f,
                "the security handshake failed (errno {errno}); does the server have a ZAP handler, and do the \
                 client's credentials use the mechanism it expects?"
            ),
        }
    }
}

/// An exception raised on the server, as its `EXCEPTION` reply described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The Thing.
    pub thing: String,
    /// The property or action.
    pub name: String,
    /// The exception class name as the server sent it, e.g. `ValueError`.
    pub kind: String,
    /// The server's message.
    pub message: String,
    /// The server's traceback lines.
    pub traceback: Vec<String>,
    /// The server's notes.
    pub notes: Option<Vec<String>>,
}

impl ClientError {
    /// The remote exception, for [`ClientError::Remote`].
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            Self::Remote(e) => Some(e),
            _ => None,
        }
    }
}
