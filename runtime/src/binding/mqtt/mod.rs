//! The MQTT binding: the server connects to an MQTT broker as a client and publishes its Things there, as
//! hololinked 0.4.2's MQTT publisher does — and serves requests there too, over MQTT 5.
//!
//! | topic | what | retained | QoS |
//! |---|---|---|---|
//! | `<thing>/<event>` | each event, its data as JSON (hololinked's) | no | [`MqttOptions::qos`] (1) |
//! | `<thing>/<property>` | each change of an observable property, the value as JSON (hololinked's); the current value at every connection | yes ([`MqttOptions::retain_properties`]) | [`MqttOptions::qos`] |
//! | `<thing>/thing-description` | the Thing Description, MQTT forms first (hololinked's) | yes | 2 |
//! | `thingwire/<server>/status` | `online` on connection, `offline` at shutdown and as the last will | yes | 1 |
//! | `thingwire/<server>/<thing>/request` | requests (MQTT 5): `{"operation", "name", "value"}`, answered on the response topic with the correlation data | no | 1 |
//!
//! * `builder.rs`: `ServerBuilder::mqtt`, [`MqttOptions`], [`MqttStats`], the broker URL;
//! * `client.rs`: rumqttc's MQTT 3.1.1 and 5 clients behind one face, TLS with rustls (ring);
//! * `outbox.rs`: the bounded event queue (never blocks the Thing; drops the oldest when full) and the counters;
//! * `session.rs`: the connection and forwarder tasks, what is published on each connection, requests;
//! * [`MqttForms`]: the forms in Thing Descriptions (the topic in the `href` path and in `mqv:topic`).

mod builder;
mod client;
mod forms;
mod outbox;
mod session;

use std::sync::Arc;
use std::time::Duration;

pub use builder::{MqttOptions, MqttQos, MqttStats, MqttTls, MqttVersion};
pub use forms::MqttForms;

use crate::binding::{BindingSpec, BoundBinding, Control, ServerSettings};
use crate::core::{Core, Describe, HashMap};
use crate::error::ServerError;
use crate::event::EventSink;
use crate::td::ThingDescription;
use builder::Broker;
use client::{Client, Connection, Polled};
use outbox::{MqttSink, Outbox};

/// The binding's name, for [`Describe`].
pub(crate) const NAME: &str = "mqtt";

/// The MQTT binding's settings, as the server builder collects them.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    broker: Option<String>,
    options: MqttOptions,
}

impl BindingSpec for Spec {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn serves_anything(&self) -> bool {
        self.broker.is_some()
    }

    fn bind(self: Box<Self>, server: &ServerSettings) -> Result<Box<dyn BoundBinding>, ServerError> {
        let Spec { broker, options } = *self;
        let url = broker.unwrap_or_default();
        let broker = Broker::parse(&url)?;
        for id in std::iter::once(&server.id).chain(&server.thing_ids) {
            if let Some(reason) = forms::topic_problem(id) {
                return Err(ServerError::InvalidId { id: id.clone(), reason });
            }
        }
        let client_id = options.client_id.clone().unwrap_or_else(|| format!("thingwire-{}", server.id));
        let status_topic = forms::status_topic(&server.id);
        let will = client::Will { topic: status_topic.clone(), payload: "offline" };
        let (client, connection) = client::new(&broker, &options, &client_id, will)?;
        let outbox = Outbox::new(options.queue);
        let requests = options.requests && options.version == MqttVersion::V5;
        let forms = MqttForms::new(broker.base(), options.retain_properties).with_requests(requests);
        let request_topics =
            server.thing_ids.iter().map(|id| (forms::request_topic(&server.id, id), Arc::from(id.as_str()))).collect();
        Ok(Box::new(Bound {
            broker,
            options,
            client,
            connection: Some(connection),
            outbox,
            forms,
            status_topic,
            request_topics,
            grace: server.grace,
        }))
    }
}

/// The MQTT binding, its client made (connected by [`BoundBinding::connect`]).
struct Bound {
    broker: Broker,
    options: MqttOptions,
    client: Client,
    connection: Option<Connection>,
    outbox: Arc<Outbox>,
    forms: MqttForms,
    status_topic: String,
    request_topics: HashMap<String, Arc<str>>,
    grace: Duration,
}

/// The MQTT binding's part of TDs requested through other bindings.
struct Forms(MqttForms);

impl Describe for Forms {
    fn describe<'t>(&'t self, td: ThingDescription<'t>) -> ThingDescription<'t> {
        td.with_forms(&self.0)
    }
}

impl Bound {
    /// Connects once: the broker's answer, or why there is none, as a [`ServerError`] that says what to do.
    async fn first_connection(&mut self) -> Result<(), ServerError> {
        let broker = self.broker.base();
        let Some(connection) = self.connection.as_mut() else { return Ok(()) };
        let limit = self.options.connect_timeout + Duration::from_secs(1);
        let outcome = tokio::time::timeout(limit, async {
            loop {
                match connection.poll().await {
                    Ok(Polled::Connected) => return Ok(()),
                    Ok(_) => continue,
                    Err(failure) => return Err(failure),
                }
            }
        })
        .await;
        let reason = match outcome {
            Ok(Ok(())) => {
                self.outbox.counters.connections.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                self.outbox.counters.connected.store(true, std::sync::atomic::Ordering::Release);
                return Ok(());
            }
            Ok(Err(failure)) => match failure.refused {
                Some(why) if why.contains("user name") || why.contains("authorized") => format!(
                    "{why} ({}): check the credentials (MqttOptions::credentials, or user:password@ in the URL) \
                     and the broker's access list",
                    failure.message
                ),
                Some(why) => format!("{why} ({})", failure.message),
                None if failure.message.starts_with("TLS") => format!(
                    "failed the TLS handshake ({}): does its certificate chain to the CA of MqttOptions::tls (or the \
                     system's), and name the URL's host?",
                    failure.message
                ),
                // Some brokers (rumqttd) close the connection without a reason code when they refuse it.
                None if failure.message.contains("closed by peer") => format!(
                    "closed the connection before accepting it ({}): it refused the server — check the \
                     credentials (MqttOptions::credentials, or user:password@ in the URL), the client id \
                     (MqttOptions::client_id; another client may use it) and the broker's access list",
                    failure.message
                ),
                None => format!(
                    "could not be reached ({}): is the broker running there, and are the host, port and scheme \
                     (mqtt:// or mqtts://) right?",
                    failure.message
                ),
            },
            Err(_) => format!(
                "did not answer within {:?}: is it an MQTT broker, and is the port right?",
                self.options.connect_timeout
            ),
        };
        Err(ServerError::Broker { broker, reason })
    }
}

impl BoundBinding for Bound {
    fn event_sink(&self) -> Option<Arc<dyn EventSink>> {
        Some(Arc::new(MqttSink {
            outbox: Arc::clone(&self.outbox),
            qos: self.options.qos,
            retain_properties: self.options.retain_properties,
        }))
    }

    fn describer(&self) -> Option<(&'static str, Arc<dyn Describe>)> {
        Some((NAME, Arc::new(Forms(self.forms.clone()))))
    }

    fn extension(&self) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        Some(Arc::new(Arc::clone(&self.outbox.counters)))
    }

    fn connect(&mut self) -> crate::binding::Connecting<'_> {
        Box::pin(self.first_connection())
    }

    fn serve(self: Box<Self>, core: Arc<Core>, control: Control) -> Vec<tokio::task::JoinHandle<()>> {
        let Bound { broker, options, client, connection, outbox, forms, status_topic, request_topics, grace } = *self;
        let Some(connection) = connection else { return Vec::new() };
        let session = Arc::new(session::Session {
            core,
            client,
            outbox,
            forms,
            options,
            broker: broker.base(),
            status_topic,
            request_topics,
            connected: tokio::sync::watch::channel(false).0,
        });
        vec![
            tokio::spawn(session::forward_task(Arc::clone(&session))),
            tokio::spawn(session::connection_task(session, connection, control.shutdown, grace)),
        ]
    }
}
