//! The MQTT binding's topics and its forms in Thing Descriptions.
//!
//! Each form names its topic twice: in the `href` path (`mqtt://broker:1883/<thing>/<name>`), where node-wot's
//! MQTT client takes it, and in `mqv:topic`, where hololinked's takes it (hololinked's own forms have the bare
//! broker URL as `href`).

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
}

impl MqttForms {
    /// The forms of Things published to the broker at `base`, e.g. `mqtt://broker.lab:1883` (for a Thing
    /// Description made without a running server). `retained_values`: observable properties' values are
    /// retained, so a `readproperty` form (subscribe, take the retained value) is added for them.
    pub fn new(base: impl Into<String>, retained_values: bool) -> Self {
        Self { base: base.into().trim_end_matches('/').to_owned(), retained_values }
    }

    /// The broker URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn form(&self, thing: &ThingInfo<'_>, name: &str, op: Operation) -> Form {
        let topic = topic(thing.thing_id, name);
        Form::new(format!("{}/{topic}", self.base), op)
            .with_term(MQV_TOPIC, topic)
            .with_content_type("application/json")
    }
}

impl FormSource for MqttForms {
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
        match affordance {
            Affordance::Property(p) if p.observable => {
                let mut forms = vec![
                    self.form(thing, p.name, Operation::ObserveProperty),
                    self.form(thing, p.name, Operation::UnobserveProperty),
                ];
                if self.retained_values {
                    forms.push(self.form(thing, p.name, Operation::ReadProperty).with_term(MQV_RETAIN, true));
                }
                forms
            }
            Affordance::Event(e) => vec![
                self.form(thing, e.name, Operation::SubscribeEvent),
                self.form(thing, e.name, Operation::UnsubscribeEvent),
            ],
            _ => Vec::new(),
        }
    }
}
