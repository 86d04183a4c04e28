//! The binding's tasks: the connection (reads, writes, reconnects), the forwarder (queues → connection), and
//! what happens on each connection — the status, the TDs, the current property values, the request topics.
//!
//! Requests (MQTT 5): a JSON object on `thingwire/<server>/<thing>/request`,
//! `{"operation": "readproperty", "name": "integration_time_ms"}`, with `"value"` for a write (the new value)
//! or an action (its keyword arguments), and optionally `"invocationTimeout"`/`"executionTimeout"` in seconds.
//! The answer goes to the request's response topic with its correlation data: the value as JSON, or
//! hololinked's error object `{"exception": {…}}`; the user property `thingwire-reply` says `value`, `error`
//! or `timeout`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::watch;

use super::client::{Client, Connection, Inbound, Outbound, Polled};
use super::forms::{self, MqttForms};
use super::outbox::Outbox;
use super::{MqttOptions, MqttQos, NAME};
use crate::core::{BindingContext, Core, ExecutionContext, HashMap, Operation, Reply, ReplySink, RequestHead};
use crate::error::ThingError;
use crate::protocol::{ContentType, ErrorObject, ErrorPayload, TimeoutKind, names};
use crate::td::ThingDescription;

/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the tasks share.
pub(crate) struct Session {
    pub(crate) core: Arc<Core>,
    pub(crate) client: Client,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) forms: MqttForms,
    pub(crate) options: MqttOptions,
    pub(crate) broker: String,
    pub(crate) status_topic: String,
    /// Request topic → Thing id.
    pub(crate) request_topics: HashMap<String, Arc<str>>,
    pub(crate) connected: watch::Sender<bool>,
}

/// What the MQTT binding adds to a request's handling: its forms first in the TD.
struct Via<'a>(&'a MqttForms);

impl<S> BindingContext<S> for Via<'_> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe<'t>(&'t self, td: ThingDescription<'t>, _: Option<&str>) -> Result<ThingDescription<'t>, ThingError> {
        Ok(td.with_forms_first(self.0).documented_as(None))
    }
}

/// Where an answer goes.
enum Target {
    /// A request's reply.
    Reply { topic: Arc<str>, correlation: Option<Bytes> },
    /// A retained value (the TD, a property's current value); errors are logged, not published.
    Retained { topic: Arc<str>, qos: MqttQos, td: bool },
}

/// The binding's [`ReplySink`].
struct Answer {
    outbox: Arc<Outbox>,
    target: Target,
    client: String,
}

impl ReplySink for Answer {
    fn send(&self, reply: Reply<'_>) {
        let (payload, content_type, status) = match reply {
            Reply::Value { output, .. } if !output.preserialized.is_empty() => {
                (output.preserialized, "application/octet-stream", "value")
            }
            Reply::Value { content_type, output, .. } => {
                let payload = if content_type.is_msgpack() {
                    // Answers are asked for in JSON; a value encoded otherwise is passed on as JSON.
                    crate::protocol::decode::<Value>(&output.payload, content_type)
                        .ok()
                        .and_then(|v| serde_json::to_vec(&v).ok())
                        .unwrap_or(output.payload)
                } else {
                    output.payload
                };
                (payload, "application/json", "value")
            }
            Reply::Error { error, origin, .. } => {
                let object = error.to_error_object(&origin.to_string());
                (
                    serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default(),
                    "application/json",
                    "error",
                )
            }
            Reply::Timeout(kind) => {
                let message = match kind {
                    TimeoutKind::Invocation => "the invocation timeout expired: the operation waited too long to start",
                    TimeoutKind::Execution => "the execution timeout expired: the operation ran too long",
                };
                let object = ErrorObject::new("TimeoutError", message, &format!("{} timeout", kind.as_str()));
                (
                    serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default(),
                    "application/json",
                    "timeout",
                )
            }
        };
        let message = match &self.target {
            Target::Reply { topic, correlation } => Outbound {
                topic: Arc::clone(topic),
                payload: Bytes::from(payload),
                qos: MqttQos::AtLeastOnce,
                retain: false,
                content_type,
                correlation: correlation.clone(),
                user_properties: vec![("thingwire-reply".into(), status.into())],
            },
            Target::Retained { topic, qos, td } => {
                if status != "value" {
                    tracing::debug!(%topic, reply = %String::from_utf8_lossy(&payload), "MQTT: no retained value to publish");
                    return;
                }
                let payload = if *td { without_formless(payload) } else { payload };
                Outbound {
                    topic: Arc::clone(topic),
                    payload: Bytes::from(payload),
                    qos: *qos,
                    retain: true,
                    content_type,
                    correlation: None,
                    user_properties: Vec::new(),
                }
            }
        };
        self.outbox.push_own(message);
    }

    fn client(&self) -> String {
        self.client.clone()
    }
}

/// The TD without the affordances no binding of the server serves (a server with only this binding, without
/// requests, serves only observable properties and events — as hololinked's MQTT TD lists only those): every
/// affordance of a valid TD has forms.
fn without_formless(td: Vec<u8>) -> Vec<u8> {
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(&td) else { return td };
    for kind in ["properties", "actions", "events"] {
        if let Some(Value::Object(affordances)) = doc.get_mut(kind) {
            affordances.retain(|_, a| a.get("forms").and_then(Value::as_array).is_some_and(|f| !f.is_empty()));
        }
    }
    serde_json::to_vec(&doc).unwrap_or(td)
}

/// Resolves once the server stops.
async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await.is_ok();
}

impl Session {
    fn own(&self, topic: String, payload: impl Into<Bytes>, qos: MqttQos, content_type: &'static str) -> Outbound {
        Outbound {
            topic: Arc::from(topic),
            payload: payload.into(),
            qos,
            retain: true,
            content_type,
            correlation: None,
            user_properties: Vec::new(),
        }
    }

    /// The broker accepted a connection: the status, each Thing's TD and current property values, and the
    /// request topics.
    fn connected(self: &Arc<Self>, counted: bool) {
        let n = if counted {
            self.outbox.counters.connections.load(Ordering::Acquire)
        } else {
            self.outbox.counters.connections.fetch_add(1, Ordering::AcqRel) + 1
        };
        self.outbox.counters.connected.store(true, Ordering::Release);
        if n == 1 {
            tracing::info!(server = %self.core.server_id(), broker = %self.broker, "publishing to the MQTT broker");
        } else {
            tracing::info!(server = %self.core.server_id(), broker = %self.broker, "reconnected to the MQTT broker: publishing again");
        }
        self.outbox.push_own(self.own(self.status_topic.clone(), "online", MqttQos::AtLeastOnce, "text/plain"));
        for runner in self.core.runners() {
            let thing = Arc::clone(runner.thing_id());
            // The TD: QoS 2 and retained, as hololinked publishes it.
            self.submit_own(
                &thing,
                names::GET_THING_DESCRIPTION,
                Operation::InvokeAction,
                forms::td_topic(&thing),
                MqttQos::ExactlyOnce,
            );
            if self.options.retain_properties {
                for p in runner.descriptor().properties.iter().filter(|p| p.observable) {
                    self.submit_own(
                        &thing,
                        p.name,
                        Operation::ReadProperty,
                        forms::topic(&thing, p.name),
                        self.options.qos,
                    );
                }
            }
        }
        self.connected.send_replace(true);
        if self.client.is_v5() && self.options.requests {
            let session = Arc::clone(self);
            tokio::spawn(async move {
                for topic in session.request_topics.keys() {
                    if session.client.subscribe(topic).await.is_err() {
                        return;
                    }
                }
            });
        }
    }

    fn submit_own(&self, thing: &str, name: &str, operation: Operation, topic: String, qos: MqttQos) {
        let head = RequestHead {
            id: "",
            thing_id: thing,
            name,
            operation: operation.as_str(),
            content_type: ContentType::Json,
            context: ExecutionContext::default(),
        };
        let sink = Answer {
            outbox: Arc::clone(&self.outbox),
            target: Target::Retained { topic: Arc::from(topic), qos, td: name == names::GET_THING_DESCRIPTION },
            client: "thingwire MQTT binding".into(),
        };
        let payload = if operation == Operation::InvokeAction { b"{}".to_vec() } else { b"null".to_vec() };
        self.core.submit(&head, (payload, Vec::new()), sink, &mut Via(&self.forms));
    }

    /// A message on a request topic.
    fn request(&self, message: Inbound) {
        let counters = &self.outbox.counters;
        let Some(thing) = self.request_topics.get(&message.topic) else { return };
        let Some(response_topic) = message.response_topic.filter(|t| !t.is_empty()) else {
            counters.refused_requests.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %message.topic, "MQTT request without a response topic: not answered (nowhere to answer)");
            return;
        };
        let sink = Answer {
            outbox: Arc::clone(&self.outbox),
            target: Target::Reply { topic: Arc::from(response_topic.as_str()), correlation: message.correlation },
            client: format!("mqtt:{response_topic}"),
        };
        let request = match parse_request(&message.payload, message.content_type.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                counters.refused_requests.fetch_add(1, Ordering::Relaxed);
                let object = e.to_error_object("thingwire MQTT binding");
                let payload = serde_json::to_vec(&ErrorPayload { exception: object }).unwrap_or_default();
                self.outbox.push_own(Outbound {
                    topic: Arc::from(response_topic),
                    payload: Bytes::from(payload),
                    qos: MqttQos::AtLeastOnce,
                    retain: false,
                    content_type: "application/json",
                    correlation: sink_correlation(&sink),
                    user_properties: vec![("thingwire-reply".into(), "error".into())],
                });
                return;
            }
        };
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let head = RequestHead {
            id: "",
            thing_id: thing,
            name: &request.name,
            operation: &request.operation,
            content_type: ContentType::Json,
            context: request.context,
        };
        self.core.submit(&head, (request.payload, Vec::new()), sink, &mut Via(&self.forms));
    }
}

fn sink_correlation(sink: &Answer) -> Option<Bytes> {
    match &sink.target {
        Target::Reply { correlation, .. } => correlation.clone(),
        Target::Retained { .. } => None,
    }
}

/// A request, decoded.
#[derive(Debug)]
struct Request {
    operation: String,
    name: String,
    payload: Vec<u8>,
    context: ExecutionContext,
}

fn parse_request(payload: &[u8], content_type: Option<&str>) -> Result<Request, ThingError> {
    let usage = "send a JSON object {\"operation\": \"readproperty\", \"name\": \"<property>\"}, with \"value\" for \
                 writeproperty (the value) and invokeaction (the keyword arguments)";
    if let Some(ct) = content_type.filter(|ct| !ct.starts_with("application/json") && !ct.is_empty()) {
        return Err(ThingError::value_error(format!(
            "a request's content type is application/json, not `{ct}`: {usage}"
        )));
    }
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| ThingError::new("DecodeError", format!("the request is not valid JSON ({e}): {usage}")))?;
    let Value::Object(mut object) = value else {
        return Err(ThingError::value_error(format!("the request is not a JSON object: {usage}")));
    };
    let text = |object: &mut serde_json::Map<String, Value>, key: &str| -> Result<Option<String>, ThingError> {
        match object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ThingError::value_error(format!("`{key}` must be a string, got {other}"))),
        }
    };
    let operation = text(&mut object, "operation")?
        .ok_or_else(|| ThingError::value_error(format!("the request names no `operation`: {usage}")))?;
    let name = text(&mut object, "name")?.unwrap_or_default();
    let seconds = |object: &mut serde_json::Map<String, Value>, key: &str| -> Result<Option<Duration>, ThingError> {
        match object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(s) if (0.0..1e9).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
                _ => Err(ThingError::value_error(format!("`{key}` must be a number of seconds, got {v}"))),
            },
        }
    };
    let context = ExecutionContext {
        invocation_timeout: seconds(&mut object, "invocationTimeout")?,
        execution_timeout: seconds(&mut object, "executionTimeout")?,
        ..ExecutionContext::default()
    };
    let value = object.remove("value").unwrap_or(Value::Null);
    if let Some(key) = object.keys().next() {
        return Err(ThingError::value_error(format!(
            "unknown request member `{key}`: a request has operation, name, value, invocationTimeout and executionTimeout"
        )));
    }
    Ok(Request { operation, name, payload: serde_json::to_vec(&value).unwrap_or_default(), context })
}

/// The connection's task: polls the connection (which reconnects by itself after a failure, with a growing
/// wait), counts what it writes, answers requests, and at shutdown says `offline` and disconnects.
pub(crate) async fn connection_task(
    session: Arc<Session>,
    mut connection: Connection,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    // The first connection was made (and counted) at start.
    session.connected(true);
    let mut backoff = session.options.reconnect_delay.max(Duration::from_millis(10));
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        let polled = tokio::select! {
            polled = connection.poll() => polled,
            _ = stopping(&mut shutdown) => break,
        };
        match polled {
            Ok(Polled::Connected) => {
                backoff = session.options.reconnect_delay.max(Duration::from_millis(10));
                if let Some(since) = down_since.take() {
                    tracing::debug!(after = ?since.elapsed(), "MQTT broker back");
                }
                session.connected(false);
            }
            Ok(Polled::Written) => session.outbox.written(),
            Ok(Polled::Message(message)) => session.request(message),
            Ok(Polled::Other) => {}
            Err(failure) => {
                if session.outbox.counters.connected.swap(false, Ordering::AcqRel) {
                    session.connected.send_replace(false);
                    let lost = session.outbox.broke();
                    down_since = Some(tokio::time::Instant::now());
                    tracing::warn!(
                        broker = %session.broker,
                        error = %failure.message,
                        lost,
                        "lost the MQTT broker: events wait in the queue (the oldest dropped when it is full) until it is back"
                    );
                } else {
                    tracing::debug!(broker = %session.broker, error = %failure.message, "MQTT broker still away");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopping(&mut shutdown) => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    // Shutting down: say `offline` (the last will says it only when the connection breaks), send what waits
    // within the grace period, and disconnect.
    if session.outbox.counters.connected.load(Ordering::Acquire) {
        session.outbox.push_own(session.own(
            session.status_topic.clone(),
            "offline",
            MqttQos::AtLeastOnce,
            "text/plain",
        ));
        session.outbox.close();
        let deadline = tokio::time::Instant::now() + grace.min(Duration::from_secs(2));
        while !session.outbox.is_idle() && tokio::time::Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, connection.poll()).await {
                Ok(Ok(Polled::Written)) => session.outbox.written(),
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        session.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(500), connection.poll()).await;
    }
    session.outbox.close();
    session.outbox.counters.connected.store(false, Ordering::Release);
}

/// The forwarder: hands queued messages to the connection while the broker is connected.
pub(crate) async fn forward_task(session: Arc<Session>) {
    let mut connected = session.connected.subscribe();
    loop {
        if connected.wait_for(|c| *c).await.is_err() {
            return;
        }
        let Some((message, kind)) = session.outbox.next().await else { return };
        session.outbox.handing(kind);
        if session.client.publish(message).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_json_objects_and_refusals_say_what_to_send() {
        let r = parse_request(br#"{"operation":"writeproperty","name":"gain","value":2.5,"executionTimeout":1}"#, None)
            .expect("parses");
        assert_eq!(
            (r.operation.as_str(), r.name.as_str(), r.payload.as_slice()),
            ("writeproperty", "gain", &b"2.5"[..])
        );
        assert_eq!(r.context.execution_timeout, Some(Duration::from_secs(1)));
        let r =
            parse_request(br#"{"operation":"readproperty","name":"gain"}"#, Some("application/json")).expect("parses");
        assert_eq!(r.payload, b"null");
        for (payload, says) in [
            (&br#"[1]"#[..], "not a JSON object"),
            (b"{", "not valid JSON"),
            (br#"{"name":"gain"}"#, "no `operation`"),
            (br#"{"operation":1}"#, "must be a string"),
            (br#"{"operation":"readproperty","nmae":"gain"}"#, "unknown request member `nmae`"),
            (br#"{"operation":"invokeaction","executionTimeout":"soon"}"#, "number of seconds"),
        ] {
            let error = parse_request(payload, None).expect_err(says);
            assert!(error.message.contains(says), "{}: {}", String::from_utf8_lossy(payload), error.message);
            assert!(error.message.contains("operation") || error.message.contains("seconds"), "says what to send");
        }
        let error = parse_request(b"\x81", Some("application/msgpack")).expect_err("refused");
        assert!(error.message.contains("application/json"), "{}", error.message);
    }
}
