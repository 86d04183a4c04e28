//! What a server's transports require of clients, as the TD's security definitions say it.

use serde_json::Value;

use super::{EXTENSION_PREFIX, SecurityDefinition};

/// The name of the `nosec` definition: the TD's own when nothing is required, and what forms over
/// unauthenticated transports name when the TD's is not `nosec`.
pub(super) const NOSEC: &str = "nosec_sc";

/// What a server's TCP transport requires of its clients (from [`crate::auth::Auth::td_scheme`]), as the TD
/// says it. IPC and INPROC forms are always `nosec`: thingwire does not authenticate them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityScheme {
    /// No credentials (`nosec`); `allow_list`: only some addresses may connect.
    NoSec {
        /// An IP allow-list is in force.
        allow_list: bool,
    },
    /// ZeroMQ PLAIN username and password, as the TD's `basic` scheme with `"in": "auto"` (the protocol
    /// binding decides where the credentials go: the PLAIN handshake).
    Basic {
        /// An IP allow-list is in force too.
        allow_list: bool,
    },
    /// ZeroMQ CURVE, as the extension scheme `tw:curve` with the server's public key in `tw:serverKey`.
    Curve {
        /// The server's public key, Z85.
        server_key: String,
        /// An IP allow-list is in force too.
        allow_list: bool,
    },
}

impl SecurityScheme {
    /// The name under `securityDefinitions`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoSec { .. } => NOSEC,
            Self::Basic { .. } => "basic_sc",
            Self::Curve { .. } => "curve_sc",
        }
    }

    /// Whether clients need credentials or keys (anything but `nosec`).
    pub(super) fn authenticates(&self) -> bool {
        !matches!(self, Self::NoSec { .. })
    }

    /// The definition under `securityDefinitions`.
    pub(super) fn definition(&self) -> SecurityDefinition {
        let allow = |allow_list: bool| {
            if allow_list { " Connections are accepted only from the server's IP allow-list." } else { "" }
        };
        match self {
            Self::NoSec { allow_list: false } => SecurityDefinition::new("nosec"),
            Self::NoSec { allow_list: true } => SecurityDefinition {
                description: Some(format!("No credentials.{}", allow(true))),
                ..SecurityDefinition::new("nosec")
            },
            Self::Basic { allow_list } => SecurityDefinition {
                location: Some("auto".into()),
                description: Some(format!(
                    "ZeroMQ PLAIN (ZMTP 3.0, RFC 24): a username and password in the connection handshake, sent in \
                     clear text.{}",
                    allow(*allow_list)
                )),
                ..SecurityDefinition::new("basic")
            },
            Self::Curve { server_key, allow_list } => {
                let mut definition = SecurityDefinition {
                    description: Some(format!(
                        "ZeroMQ CURVE (ZMTP 3.0, RFC 26): encrypted connections; the client needs the server's public \
                         key (tw:serverKey, Z85) and a key pair whose public key the server lists.{}",
                        allow(*allow_list)
                    )),
                    ..SecurityDefinition::new(format!("{EXTENSION_PREFIX}:curve"))
                };
                definition.extra.insert(format!("{EXTENSION_PREFIX}:serverKey"), Value::String(server_key.clone()));
                definition
            }
        }
    }
}
