//! rumqttc's MQTT 3.1.1 and MQTT 5 clients behind one face: what the binding publishes, what it receives, and
//! why a connection failed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::v5;

use super::builder::{Broker, MqttOptions, MqttQos, MqttVersion};
use crate::error::ServerError;

/// One message to publish.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub(crate) topic: Arc<str>,
    pub(crate) payload: Bytes,
    pub(crate) qos: MqttQos,
    pub(crate) retain: bool,
    pub(crate) content_type: &'static str,
    /// MQTT 5 only: the request's correlation data (a reply), and user properties.
    pub(crate) correlation: Option<Bytes>,
    pub(crate) user_properties: Vec<(String, String)>,
}

/// A message received (a request).
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) topic: String,
    pub(crate) payload: Bytes,
    pub(crate) response_topic: Option<String>,
    pub(crate) correlation: Option<Bytes>,
    pub(crate) content_type: Option<String>,
}

/// What one poll of the connection brought.
pub(crate) enum Polled {
    /// The broker accepted the connection.
    Connected,
    /// A publish was written to the broker.
    Written,
    /// A message arrived.
    Message(Inbound),
    /// Anything else (acknowledgements, pings).
    Other,
}

/// Why the connection failed.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The broker refused the credentials or the client (a return code), rather than the network failing.
    pub(crate) refused: Option<&'static str>,
    pub(crate) message: String,
}

fn qos4(q: MqttQos) -> rumqttc::QoS {
    match q {
        MqttQos::AtMostOnce => rumqttc::QoS::AtMostOnce,
        MqttQos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        MqttQos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: MqttQos) -> v5::mqttbytes::QoS {
    match q {
        MqttQos::AtMostOnce => v5::mqttbytes::QoS::AtMostOnce,
        MqttQos::AtLeastOnce => v5::mqttbytes::QoS::AtLeastOnce,
        MqttQos::ExactlyOnce => v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// The client half: hands messages to the connection's task.
#[derive(Clone)]
pub(crate) enum Client {
    V4(rumqttc::AsyncClient),
    V5(v5::AsyncClient),
}

/// The connection half: polled by the binding's task, it reads, writes, pings and reconnects.
pub(crate) enum Connection {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<v5::EventLoop>),
}

/// The last will: `offline`, retained, on the status topic.
pub(crate) struct Will {
    pub(crate) topic: String,
    pub(crate) payload: &'static str,
}

/// Messages handed to the connection but not yet taken by it (rumqttc's request channel).
const CHANNEL: usize = 256;

/// A client and its connection for `broker` (nothing is sent until the connection is polled).
pub(crate) fn new(
    broker: &Broker,
    options: &MqttOptions,
    client_id: &str,
    will: Will,
) -> Result<(Client, Connection), ServerError> {
    let credentials = options.credentials.clone().or_else(|| broker.credentials.clone());
    let tls = if broker.tls { Some(tls_config(broker, options)?) } else { None };
    let timeout = options.connect_timeout.as_secs().max(1);
    let keep_alive = options.keep_alive.max(Duration::from_secs(5));
    Ok(match options.version {
        MqttVersion::V311 => {
            let mut o = rumqttc::MqttOptions::new(client_id, &broker.host, broker.port);
            o.set_keep_alive(keep_alive)
                .set_clean_session(true)
                .set_max_packet_size(options.max_incoming, 256 << 20)
                .set_request_channel_capacity(CHANNEL)
                .set_last_will(rumqttc::LastWill::new(will.topic, will.payload, rumqttc::QoS::AtLeastOnce, true));
            if let Some((user, password)) = credentials {
                o.set_credentials(user, password);
            }
            if let Some(tls) = tls {
                o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls)));
            }
            let (client, mut connection) = rumqttc::AsyncClient::new(o, CHANNEL);
            connection.network_options.set_connection_timeout(timeout);
            (Client::V4(client), Connection::V4(Box::new(connection)))
        }
        MqttVersion::V5 => {
            let mut o = v5::MqttOptions::new(client_id, &broker.host, broker.port);
            let will_properties = v5::mqttbytes::v5::LastWillProperties {
                delay_interval: None,
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: Some("text/plain".into()),
                response_topic: None,
                correlation_data: None,
                user_properties: Vec::new(),
            };
            o.set_keep_alive(keep_alive)
                .set_clean_start(true)
                .set_max_packet_size(Some(u32::try_from(options.max_incoming).unwrap_or(u32::MAX)))
                .set_request_channel_capacity(CHANNEL)
                .set_connection_timeout(timeout)
                .set_last_will(v5::mqttbytes::v5::LastWill::new(
                    will.topic,
                    will.payload,
                    v5::mqttbytes::QoS::AtLeastOnce,
                    true,
                    Some(will_properties),
                ));
            if let Some((user, password)) = credentials {
                o.set_credentials(user, password);
            }
            if let Some(tls) = tls {
                o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls)));
            }
            let (client, connection) = v5::AsyncClient::new(o, CHANNEL);
            (Client::V5(client), Connection::V5(Box::new(connection)))
        }
    })
}

/// rustls with ring: the CA file's certificates, or the system's.
fn tls_config(broker: &Broker, options: &MqttOptions) -> Result<Arc<rustls::ClientConfig>, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, what: &str, e: String| ServerError::Address {
        address: path.display().to_string(),
        reason: format!("the MQTT TLS {what} could not be read: {e}"),
    };
    let settings = options.tls.clone().unwrap_or_default();
    let mut roots = rustls::RootCertStore::empty();
    match &settings.ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(path, "CA file", e.to_string()))? {
                let cert = cert.map_err(|e| bad(path, "CA file", e.to_string()))?;
                roots.add(cert).map_err(|e| bad(path, "CA certificate", e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad(path, "CA file", "it holds no CERTIFICATE block".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(ServerError::Broker {
                    broker: broker.base(),
                    reason: "has TLS (mqtts://) but the system has no CA certificates to check it against; \
                             install ca-certificates or give MqttTls::ca"
                        .into(),
                });
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Broker { broker: broker.base(), reason: format!("TLS setup failed: {e}") })?
        .with_root_certificates(roots);
    let config = match &settings.client_auth {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
                .map_err(|e| bad(chain, "client certificate", e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(chain, "client certificate", e.to_string()))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, "client key", e.to_string()))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| bad(chain, "client certificate", e.to_string()))?
        }
    };
    Ok(Arc::new(config))
}

impl Client {
    /// Hands a message to the connection; waits while its channel is full. `Err` once the connection's task
    /// is gone.
    pub(crate) async fn publish(&self, m: Outbound) -> Result<(), ()> {
        match self {
            Client::V4(c) => c.publish(&*m.topic, qos4(m.qos), m.retain, m.payload.to_vec()).await.map_err(|_| ()),
            Client::V5(c) => {
                let properties = v5::mqttbytes::v5::PublishProperties {
                    content_type: Some(m.content_type.to_owned()),
                    correlation_data: m.correlation,
                    user_properties: m.user_properties,
                    ..Default::default()
                };
                c.publish_with_properties(&*m.topic, qos5(m.qos), m.retain, m.payload, properties).await.map_err(|_| ())
            }
        }
    }

    /// Subscribes to `topic` (QoS 1).
    pub(crate) async fn subscribe(&self, topic: &str) -> Result<(), ()> {
        match self {
            Client::V4(c) => c.subscribe(topic, rumqttc::QoS::AtLeastOnce).await.map_err(|_| ()),
            Client::V5(c) => c.subscribe(topic, v5::mqttbytes::QoS::AtLeastOnce).await.map_err(|_| ()),
        }
    }

    /// Sends `DISCONNECT` (the broker then drops the last will).
    pub(crate) async fn disconnect(&self) {
        match self {
            Client::V4(c) => drop(c.disconnect().await),
            Client::V5(c) => drop(c.disconnect().await),
        }
    }

    pub(crate) fn is_v5(&self) -> bool {
        matches!(self, Client::V5(_))
    }
}

fn refused4(code: rumqttc::ConnectReturnCode) -> &'static str {
    use rumqttc::ConnectReturnCode as C;
    match code {
        C::BadUserNamePassword => "refused the user name or password",
        C::NotAuthorized => "refused: not authorized",
        C::BadClientId => "refused the client id",
        C::RefusedProtocolVersion => "refused the protocol version (try MqttVersion::V311 or V5)",
        C::ServiceUnavailable => "is unavailable",
        C::Success => "accepted",
    }
}

fn refused5(code: v5::mqttbytes::v5::ConnectReturnCode) -> &'static str {
    use v5::mqttbytes::v5::ConnectReturnCode as C;
    match code {
        C::BadUserNamePassword => "refused the user name or password",
        C::NotAuthorized => "refused: not authorized",
        C::BadAuthenticationMethod => "refused the authentication method",
        C::BadClientId | C::ClientIdentifierNotValid => "refused the client id",
        C::RefusedProtocolVersion | C::UnsupportedProtocolVersion => {
            "refused the protocol version (try MqttVersion::V311)"
        }
        C::Banned => "refused: this client is banned",
        C::ServerUnavailable | C::ServiceUnavailable | C::ServerBusy => "is unavailable or busy",
        C::QuotaExceeded | C::ConnectionRateExceeded => "refused: quota or connection rate exceeded",
        _ => "refused the connection",
    }
}

impl Connection {
    /// The next thing that happened on the connection; after a failure, polling again reconnects.
    pub(crate) async fn poll(&mut self) -> Result<Polled, Failure> {
        match self {
            Connection::V4(c) => match c.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => Ok(Polled::Connected),
                Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => Ok(Polled::Written),
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => Ok(Polled::Message(Inbound {
                    topic: p.topic,
                    payload: p.payload,
                    response_topic: None,
                    correlation: None,
                    content_type: None,
                })),
                Ok(_) => Ok(Polled::Other),
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    Err(Failure { refused: Some(refused4(code)), message: format!("{code:?}") })
                }
                Err(e) => Err(Failure { refused: None, message: e.to_string() }),
            },
            Connection::V5(c) => match c.poll().await {
                Ok(v5::Event::Incoming(v5::Incoming::ConnAck(_))) => Ok(Polled::Connected),
                Ok(v5::Event::Outgoing(rumqttc::Outgoing::Publish(_))) => Ok(Polled::Written),
                Ok(v5::Event::Incoming(v5::Incoming::Publish(p))) => {
                    let properties = p.properties.unwrap_or_default();
                    Ok(Polled::Message(Inbound {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload,
                        response_topic: properties.response_topic,
                        correlation: properties.correlation_data,
                        content_type: properties.content_type,
                    }))
                }
                Ok(_) => Ok(Polled::Other),
                Err(v5::ConnectionError::ConnectionRefused(code)) => {
                    Err(Failure { refused: Some(refused5(code)), message: format!("{code:?}") })
                }
                Err(e) => Err(Failure { refused: None, message: e.to_string() }),
            },
        }
    }
}
