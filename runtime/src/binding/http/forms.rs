//! The HTTP binding's forms in Thing Descriptions: absolute `href`s, `htv:methodName`, `contentType`, and
//! `subprotocol: "sse"` on the observe and subscribe forms, as hololinked's HTTP server writes them (its
//! client takes the first form of an operation, so a TD fetched over HTTP lists these first).

use crate::td::{Affordance, Form, FormSource, HTV_METHOD_NAME, Operation, SecurityDefinition, ThingInfo};

use super::routes::dashed;

/// The name of the `nosec` definition forms name when the TD's own scheme is another binding's.
const NOSEC: &str = "nosec_sc";

/// The HTTP forms of a server reached at `base` (`http://host:port`).
#[derive(Debug, Clone)]
pub struct HttpForms {
    base: String,
}

impl HttpForms {
    /// The forms of a server at `base`, e.g. `http://lab-pc:8080` (for a Thing Description made without a
    /// running server).
    pub fn new(base: impl Into<String>) -> Self {
        Self { base: base.into().trim_end_matches('/').to_owned() }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn form(&self, thing: &ThingInfo<'_>, path: &str, op: Operation, method: &'static str) -> Form {
        let form = Form::new(format!("{}/{}/{path}", self.base, thing.thing_id), op)
            .with_content_type("application/json")
            .with_term(HTV_METHOD_NAME, method);
        // The TD's scheme is another binding's (ZeroMQ's credentials): this binding asks for none.
        if thing.security.is_some_and(|s| s.name() != NOSEC) { form.with_security([NOSEC]) } else { form }
    }
}

impl FormSource for HttpForms {
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
        let sse = |form: Form| form.with_subprotocol("sse");
        match affordance {
            Affordance::Thing => vec![
                self.form(thing, "properties", Operation::ReadAllProperties, "GET"),
                self.form(thing, "properties", Operation::WriteAllProperties, "PUT"),
                self.form(thing, "properties", Operation::ReadMultipleProperties, "GET"),
                self.form(thing, "properties", Operation::WriteMultipleProperties, "PATCH"),
            ],
            Affordance::Property(p) => {
                let path = dashed(p.name);
                let mut forms = vec![self.form(thing, &path, Operation::ReadProperty, "GET")];
                if !p.read_only {
                    forms.push(self.form(thing, &path, Operation::WriteProperty, "PUT"));
                }
                if p.observable {
                    // node-wot ends an observation through the `unobserveproperty` form: the same stream, after
                    // the observe form (it matches operations by substring, so the order matters).
                    let changes = format!("{path}/change-event");
                    forms.push(sse(self.form(thing, &changes, Operation::ObserveProperty, "GET")));
                    forms.push(sse(self.form(thing, &changes, Operation::UnobserveProperty, "GET")));
                }
                forms
            }
            Affordance::Action(a) => vec![self.form(thing, &dashed(a.name), Operation::InvokeAction, "POST")],
            Affordance::Event(e) => {
                let path = dashed(e.name);
                vec![
                    sse(self.form(thing, &path, Operation::SubscribeEvent, "GET")),
                    sse(self.form(thing, &path, Operation::UnsubscribeEvent, "GET")),
                ]
            }
        }
    }

    fn security_definitions(&self, thing: &ThingInfo<'_>) -> Vec<(String, SecurityDefinition)> {
        if thing.security.is_some_and(|s| s.name() != NOSEC) {
            vec![(NOSEC.to_owned(), SecurityDefinition::new("nosec"))]
        } else {
            Vec::new()
        }
    }
}
