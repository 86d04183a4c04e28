//! The MQTT binding's topics and its forms in Thing Descriptions.
//!
//! Each form names its topic twice: in the `href` path (`mqtt://broker:1883/<thing>/<name>`), where node-wot's
//! MQTT client takes it, and in `mqv:topic`, where hololinked's takes it (hololinked's own forms have the bare
//! broker URL as `href`).
//!
//! | affordance | forms |
//! |---|---|
//! | observable property | `observeproperty`, `unobserveproperty` on `<thing>/<property>`; `readproperty` there too (subscribe and take the retained value: node-wot reads so) when values are retained |
//! | any property | `readproperty`, `writeproperty` on the Thing's request topic (MQTT 5, `subprotocol: "thingwire-request"`) |
//! | action | `invokeaction` on the request topic |
//! | event | `subscribeevent`, `unsubscribeevent` on `<thing>/<event>` |

use crate::td::{Affordance, Form, FormSource, MQV_RETAIN, MQV_TOPIC, Operation, ThingInfo};

/// The topic of an event or property of a Thing: `<thing>/<name>`, as hololinked publishes.
pub(crate) fn topic(thing: &str, name: &str) -> String {
    format!("{thing}/{name}")
}

/// The topic of a Thing's retained TD: `<thing>/thing-description`, where hololinked's client looks.
pub(crate) fn td_topic(thing: &str) -> String {
    format!("{thing}/thing-description")
}

/// The topic of a server's status (`online` / `offline`, retained).
pub(crate) fn status_topic(server: &str) -> String {
    format!("thingwire/{server}/status")
}

/// The topic a Thing takes requests on (MQTT 5).
pub(crate) fn request_topic(server: &str, thing: &str) -> String {
    format!("thingwire/{server}/{thing}/request")
}

/// Why an id cannot be part of a topic, if it cannot.
pub(crate) fn topic_problem(id: &str) -> Option<&'static str> {
    if id.contains(['+', '#']) {
        Some("an MQTT topic cannot hold `+` or `#` (they are wildcards): choose an id without them to serve over MQTT")
    } else if id.contains('\0') {
        Some("an MQTT topic cannot hold a NUL character")
    } else {
        None
    }
}

/// The MQTT forms of Things published to a broker at `base` (`mqtt://host:port`).
#[derive(Debug, Clone)]
pub struct MqttForms {
    base: String,
    retained_values: bool,
    requests: bool,
}

impl MqttForms {
    /// The forms of Things published to the broker at `base`, e.g. `mqtt://broker.lab:1883` (for a Thing
    /// Description made without a running server). `retained_values`: observable properties' values are
    /// retained, so a `readproperty` form (subscribe, take the retained value) is added for them.
    pub fn new(base: impl Into<String>, retained_values: bool) -> Self {
        Self { base: base.into().trim_end_matches('/').to_owned(), retained_values, requests: false }
    }

    /// Adds the forms of requests over MQTT 5 (property reads and writes, actions) on each Thing's request
    /// topic, `thingwire/<server>/<thing>/request`.
    pub fn with_requests(mut self, requests: bool) -> Self {
        self.requests = requests;
        self
    }

    /// The broker URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn form(&self, thing: &ThingInfo<'_>, name: &str, op: Operation) -> Form {
        self.on(topic(thing.thing_id, name), op)
    }

    fn on(&self, topic: String, op: Operation) -> Form {
        Form::new(format!("{}/{topic}", self.base), op)
            .with_term(MQV_TOPIC, topic)
            .with_content_type("application/json")
    }

    fn request(&self, thing: &ThingInfo<'_>, op: Operation) -> Form {
        self.on(request_topic(thing.server_id, thing.thing_id), op)
            .with_term(MQV_CONTROL_PACKET, "publish")
            .with_subprotocol("thingwire-request")
    }
}

/// `mqv:controlPacket`: what a client sends to use a form.
const MQV_CONTROL_PACKET: &str = "mqv:controlPacket";

impl FormSource for MqttForms {
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
        match affordance {
            Affordance::Property(p) => {
                let mut forms = Vec::new();
                if p.observable {
                    forms.push(self.form(thing, p.name, Operation::ObserveProperty));
                    forms.push(self.form(thing, p.name, Operation::UnobserveProperty));
                    if self.retained_values {
                        let read = self.form(thing, p.name, Operation::ReadProperty);
                        forms.push(read.with_term(MQV_RETAIN, true).with_term(MQV_CONTROL_PACKET, "subscribe"));
                    }
                }
                if self.requests {
                    forms.push(self.request(thing, Operation::ReadProperty));
                    if !p.read_only {
                        forms.push(self.request(thing, Operation::WriteProperty));
                    }
                }
                forms
            }
            Affordance::Action(_) if self.requests => vec![self.request(thing, Operation::InvokeAction)],
            Affordance::Event(e) => vec![
                self.form(thing, e.name, Operation::SubscribeEvent),
                self.form(thing, e.name, Operation::UnsubscribeEvent),
            ],
            _ => Vec::new(),
        }
    }
}
