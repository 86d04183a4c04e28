//! The MQTT binding's settings on the server builder, the broker URL, and the binding's counters on the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Spec;
use super::outbox::Counters;
use crate::error::ServerError;
use crate::{Server, ServerBuilder};

/// The MQTT protocol version the server speaks to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MqttVersion {
    /// MQTT 5 (the default): content types on every message, and requests with response topics and correlation
    /// data (property reads and writes, actions).
    #[default]
    V5,
    /// MQTT 3.1.1, for older brokers: events, property changes, retained values, the TD and the status topic;
    /// no requests (3.1.1 has no response topic).
    V311,
}

/// The quality of service of the messages the server publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MqttQos {
    /// At most once: nothing is acknowledged.
    AtMostOnce,
    /// At least once (the default, as hololinked's publisher): the broker acknowledges each message.
    #[default]
    AtLeastOnce,
    /// Exactly once.
    ExactlyOnce,
}

/// TLS for an `mqtts://` broker: whom to trust, and the server's own certificate if the broker asks for one.
#[derive(Debug, Clone, Default)]
pub struct MqttTls {
    /// The CA certificates (PEM) that the broker's certificate must chain to; `None`: the system's.
    pub ca: Option<PathBuf>,
    /// A client certificate chain and its private key (PEM), for brokers that authenticate clients by
    /// certificate; `None`: none.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// How the MQTT binding connects and what it publishes. Set with [`ServerBuilder::mqtt_options`].
#[derive(Debug, Clone)]
pub struct MqttOptions {
    /// The protocol version. Default MQTT 5.
    pub version: MqttVersion,
    /// The client id the server connects with. Default `thingwire-<server id>`.
    pub client_id: Option<String>,
    /// User name and password for the broker (also taken from the URL's `user:password@`). Default none.
    pub credentials: Option<(String, String)>,
    /// How often the connection is checked when idle (MQTT keep-alive). Default 30 s.
    pub keep_alive: Duration,
    /// How long connecting may take before it counts as failed. Default 5 s.
    pub connect_timeout: Duration,
    /// The first wait before reconnecting after the broker went away; doubled on each failure up to 5 s.
    /// Default 100 ms.
    pub reconnect_delay: Duration,
    /// The quality of service of events and property changes. Default at-least-once (QoS 1), as hololinked.
    pub qos: MqttQos,
    /// Events held while the broker is away or slower than the Thing; when full, the oldest is dropped (and
    /// counted in [`MqttStats::dropped`]). Default 10 000.
    pub queue: usize,
    /// Publish the values of observable properties retained (at start, on every reconnection and on each
    /// change), so that a late subscriber sees the current value at once. Default `true`; hololinked's publisher
    /// does not.
    pub retain_properties: bool,
    /// Serve property reads and writes and action invocations over MQTT 5 requests on
    /// `thingwire/<server>/<thing>/request`. Default `true` (MQTT 5 only).
    pub requests: bool,
    /// TLS settings for `mqtts://` (the system's CA certificates when `None`).
    pub tls: Option<MqttTls>,
    /// Largest message accepted from the broker (a request). Default 1 MiB.
    pub max_incoming: usize,
}

impl Default for MqttOptions {
    fn default() -> Self {
        Self {
            version: MqttVersion::V5,
            client_id: None,
            credentials: None,
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            reconnect_delay: Duration::from_millis(100),
            qos: MqttQos::AtLeastOnce,
            queue: 10_000,
            retain_properties: true,
            requests: true,
            tls: None,
            max_incoming: 1 << 20,
        }
    }
}

/// How the MQTT binding has fared since the server started ([`Server::mqtt_stats`]).
///
/// Every event (and property change) the Thing emits is either `queued` or `dropped`; every queued one is,
/// in the end, `published` (written to the broker's connection) or `lost` (it had left the queue for a
/// connection that broke before it was written) — until then it is `pending`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MqttStats {
    /// Events taken into the queue.
    pub queued: u64,
    /// Events dropped because the queue was full (the broker away or slower than the Thing): the oldest go.
    pub dropped: u64,
    /// Events written to the broker.
    pub published: u64,
    /// Events handed to a connection that broke before they were written.
    pub lost: u64,
    /// Events queued or handed over, not yet written.
    pub pending: u64,
    /// Requests answered (property reads and writes, actions).
    pub requests: u64,
    /// Requests refused before reaching a Thing (not an object, no operation, no response topic).
    pub refused_requests: u64,
    /// Successful connections to the broker (1 after the start, more after reconnections).
    pub connections: u64,
    /// Whether the server is connected to the broker now.
    pub connected: bool,
}

impl ServerBuilder {
    /// The MQTT binding's settings (added on first use).
    fn mqtt_spec(&mut self) -> &mut Spec {
        self.binding_mut::<Spec>()
    }

    /// Publishes to the MQTT broker at `broker` (`mqtt://host[:port]`, `mqtts://host[:port]` with TLS,
    /// optionally `user:password@`), as hololinked 0.4.2's MQTT publisher: events on `<thing>/<event>`,
    /// observable property changes on `<thing>/<property>`, the Thing Description retained on
    /// `<thing>/thing-description`; and beyond it, retained property values, requests over MQTT 5 and the
    /// server's status on `thingwire/<server>/status` (last will `offline`). The server connects as a client
    /// at [`start`](Self::start), beside its other bindings. See the guide's section "Publishing to an MQTT
    /// broker".
    pub fn mqtt(mut self, broker: impl Into<String>) -> Self {
        self.mqtt_spec().broker = Some(broker.into());
        self
    }

    /// How the MQTT binding connects and what it publishes (see [`MqttOptions`]).
    pub fn mqtt_options(mut self, options: MqttOptions) -> Self {
        self.mqtt_spec().options = options;
        self
    }
}

impl Server {
    /// The MQTT binding's counters: events queued, dropped, published and lost, requests, connections; `None`
    /// when the server has no MQTT binding.
    pub fn mqtt_stats(&self) -> Option<MqttStats> {
        self.extension::<Arc<Counters>>().map(|c| c.snapshot())
    }
}

/// A broker URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broker {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<(String, String)>,
}

impl Broker {
    /// `mqtt://[user:password@]host[:port]`, `mqtts://…`; a bare `host[:port]` is `mqtt://`.
    pub(crate) fn parse(url: &str) -> Result<Self, ServerError> {
        let invalid = |reason: &str| ServerError::Address { address: url.to_owned(), reason: reason.to_owned() };
        let (tls, rest) = match url.split_once("://") {
            Some(("mqtt" | "tcp", rest)) => (false, rest),
            Some(("mqtts" | "ssl", rest)) => (true, rest),
            Some((scheme, _)) => {
                return Err(invalid(&format!(
                    "the scheme `{scheme}://` is not an MQTT broker's: use mqtt://host:1883 or mqtts://host:8883"
                )));
            }
            None => (false, url),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('?') {
            return Err(invalid("a broker URL has no path or query: use mqtt://host:port"));
        }
        let (credentials, authority) = match rest.rsplit_once('@') {
            Some((user, authority)) => {
                let (name, password) = user.split_once(':').unwrap_or((user, ""));
                (Some((name.to_owned(), password.to_owned())), authority)
            }
            None => (None, rest),
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("an IPv6 host needs its closing `]`"))?;
            match after.strip_prefix(':') {
                Some(port) => (host.to_owned(), port),
                None if after.is_empty() => (host.to_owned(), ""),
                None => return Err(invalid("expected `:port` after the IPv6 host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), port),
                None => (authority.to_owned(), ""),
            }
        };
        if host.is_empty() {
            return Err(invalid("the broker URL has no host: use mqtt://host:port, e.g. mqtt://127.0.0.1:1883"));
        }
        let port = if port.is_empty() {
            default_port
        } else {
            match port.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(invalid(&format!("the port `{port}` is not a number from 1 to 65535"))),
            }
        };
        Ok(Self { tls, host, port, credentials })
    }

    /// The URL as TD forms write it (no credentials).
    pub(crate) fn base(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_or_say_what_is_wrong() {
        let b = Broker::parse("mqtt://127.0.0.1:1884").expect("parses");
        assert_eq!((b.tls, b.host.as_str(), b.port, b.credentials), (false, "127.0.0.1", 1884, None));
        let b = Broker::parse("mqtts://lab:secret@broker.lab").expect("parses");
        assert_eq!((b.tls, b.port), (true, 8883));
        assert_eq!(b.credentials, Some(("lab".into(), "secret".into())));
        assert_eq!(b.base(), "mqtts://broker.lab:8883", "no credentials in forms");
        let b = Broker::parse("[::1]:1883").expect("parses");
        assert_eq!(b.base(), "mqtt://[::1]:1883");
        for (url, says) in [
            ("http://h:1883", "not an MQTT broker"),
            ("mqtt://h:0", "1 to 65535"),
            ("mqtt://h:x", "not a number"),
            ("mqtt://:1883", "no host"),
            ("mqtt://h:1883/topic", "no path"),
        ] {
            let error = Broker::parse(url).expect_err(url).to_string();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
