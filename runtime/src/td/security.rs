//! What a server's transports require of clients, as the TD's security definitions say it.

use serde_json::Value;

use super::{EXTENSION_PREFIX, SecurityDefinition};

/// The name of the `nosec` definition: the TD's own when nothing is required, and what forms over
/// unauthenticated transports name when the TD's is not `nosec`.
pub(super) const NOSEC: &str = "nosec_sc";

/// What a binding requires of its clients, as the TD says it: the ZeroMQ binding's TCP transport (from
/// [`crate::auth::Auth::td_scheme`]; its IPC and INPROC forms are always `nosec`: thingwire does not
/// authenticate them), or the HTTP binding.
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
    /// HTTP Basic authentication (a username and password in the `Authorization` header).
    HttpBasic,
    /// An HTTP bearer token (an API key) in the `Authorization` header.
    Bearer,
    /// Either HTTP Basic or a bearer token (TD `combo` with `oneOf`).
    HttpBasicOrBearer,
}

impl SecurityScheme {
    /// The name under `securityDefinitions`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoSec { .. } => NOSEC,
            Self::Basic { .. } => "basic_sc",
            Self::Curve { .. } => "curve_sc",
            Self::HttpBasic => "http_basic_sc",
            Self::Bearer => "bearer_sc",
            Self::HttpBasicOrBearer => "http_sc",
        }
    }

    /// The name of what `scheme` names, `nosec` for none.
    pub(crate) fn name_of(scheme: Option<&SecurityScheme>) -> &'static str {
        scheme.map_or(NOSEC, Self::name)
    }

    /// Its definitions under `securityDefinitions`, by name: its own, and those a combination names.
    pub(crate) fn definitions(&self) -> Vec<(String, SecurityDefinition)> {
        let mut all = vec![(self.name().to_owned(), self.definition())];
        if matches!(self, Self::HttpBasicOrBearer) {
            all.extend([Self::HttpBasic, Self::Bearer].iter().map(|s| (s.name().to_owned(), s.definition())));
        }
        all
    }

    /// Whether clients need credentials or keys (anything but `nosec`).
    pub(crate) fn authenticates(&self) -> bool {
        !matches!(self, Self::NoSec { .. })
    }

    /// The definition under `securityDefinitions`.
    pub(crate) fn definition(&self) -> SecurityDefinition {
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
            Self::HttpBasic => SecurityDefinition {
                location: Some("header".into()),
                description: Some("HTTP Basic authentication: a username and password.".into()),
                ..SecurityDefinition::new("basic")
            },
            Self::Bearer => SecurityDefinition {
                location: Some("header".into()),
                description: Some("An API token, sent as `Authorization: Bearer <token>`.".into()),
                ..SecurityDefinition::new("bearer")
            },
            Self::HttpBasicOrBearer => {
                let mut definition = SecurityDefinition {
                    description: Some("HTTP Basic authentication or an API token, either.".into()),
                    ..SecurityDefinition::new("combo")
                };
                let members = [Self::HttpBasic.name(), Self::Bearer.name()].map(|n| Value::String(n.into()));
                definition.extra.insert("oneOf".into(), Value::Array(members.to_vec()));
                definition
            }
        }
    }
}
