//! The forms of the ZeroMQ binding (hololinked 0.4's protocol): where and how each affordance is reached
//! over the transports a server is bound to.

use super::security::NOSEC;
use super::{Affordance, Form, FormSource, Operation, SecurityDefinition, SecurityScheme, ThingInfo};
use crate::transport::{BoundAddresses, Protocol};

/// The content types every affordance is offered in, in order.
pub const CONTENT_TYPES: [&str; 2] = ["application/json", "application/msgpack"];

/// The ZeroMQ forms of a Thing served on some transports (TCP, IPC, INPROC), as hololinked's client reads
/// them:
///
/// * `href` the address a client connects to: the request ROUTER for reads, writes and actions, the event
///   PUB for events and for observing properties;
/// * one form per operation and content type, JSON first (hololinked's client takes the first form) and
///   msgpack second, transport by transport in the order they were added, a property's `observeproperty`
///   forms after its read and write forms;
/// * thingwire authenticates TCP only: a form whose transport needs another scheme than the TD's names its
///   own (`"security": ["nosec_sc"]` over IPC in a TD whose TCP forms need credentials; the TCP scheme in a TD
///   served through another binding);
/// * no forms for the Thing as a whole (hololinked has none over ZeroMQ).
#[derive(Debug, Clone, Default)]
pub struct ZmqForms<'a> {
    addresses: Vec<&'a BoundAddresses>,
    /// What the TCP transport requires.
    scheme: Option<&'a SecurityScheme>,
}

impl<'a> ZmqForms<'a> {
    /// The forms for these transports.
    pub fn new(addresses: impl IntoIterator<Item = &'a BoundAddresses>) -> Self {
        Self { addresses: addresses.into_iter().collect(), scheme: None }
    }

    /// Says what the TCP transport requires.
    pub fn secured_by(&mut self, scheme: &'a SecurityScheme) {
        self.scheme = Some(scheme);
    }

    /// Adds a transport.
    pub fn push(&mut self, addresses: &'a BoundAddresses) {
        self.addresses.push(addresses);
    }

    /// The scheme a TD with these forms declares for all of them, given what the server's TCP transport
    /// requires: `scheme` when TCP is among the transports (the others are not authenticated), nothing
    /// (plain `nosec`) otherwise or when `scheme` is plain `nosec`.
    pub fn document_security<'s>(&self, scheme: Option<&'s SecurityScheme>) -> Option<&'s SecurityScheme> {
        let tcp = self.addresses.iter().any(|a| a.protocol == Protocol::Tcp);
        scheme.filter(|s| tcp && **s != SecurityScheme::NoSec { allow_list: false })
    }

    /// What a form over `protocol` needs: the TCP transport's scheme, or nothing (`nosec`).
    fn needs(&self, protocol: Protocol) -> Option<&'a SecurityScheme> {
        self.scheme.filter(|s| protocol == Protocol::Tcp && s.authenticates())
    }

    /// The scheme a form over `protocol` must name itself, when it is not the TD's.
    fn override_for(&self, thing: &ThingInfo<'_>, protocol: Protocol) -> Option<&'static str> {
        let needed = SecurityScheme::name_of(self.needs(protocol));
        (needed != SecurityScheme::name_of(thing.security)).then_some(needed)
    }

    fn forms_at(&self, thing: &ThingInfo<'_>, ops: &[Operation], event: bool) -> impl Iterator<Item = Form> {
        self.addresses.iter().flat_map(move |a| {
            let href = if event { &a.event_href } else { &a.request_href };
            let security = self.override_for(thing, a.protocol);
            CONTENT_TYPES.into_iter().flat_map(move |content_type| {
                ops.iter().map(move |op| {
                    let form = Form::new(href, op.clone()).with_content_type(content_type);
                    match security {
                        Some(name) => form.with_security([name]),
                        None => form,
                    }
                })
            })
        })
    }
}

impl FormSource for ZmqForms<'_> {
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
        match affordance {
            Affordance::Property(p) => {
                let ops: &[Operation] = if p.read_only {
                    &[Operation::ReadProperty]
                } else {
                    &[Operation::ReadProperty, Operation::WriteProperty]
                };
                let observe: &[Operation] = if p.observable { &[Operation::ObserveProperty] } else { &[] };
                self.forms_at(thing, ops, false).chain(self.forms_at(thing, observe, true)).collect()
            }
            Affordance::Action(_) => self.forms_at(thing, &[Operation::InvokeAction], false).collect(),
            Affordance::Event(_) => {
                self.forms_at(thing, &[Operation::SubscribeEvent, Operation::UnsubscribeEvent], true).collect()
            }
            Affordance::Thing => Vec::new(),
        }
    }

    fn security_definitions(&self, thing: &ThingInfo<'_>) -> Vec<(String, SecurityDefinition)> {
        let mut definitions = Vec::new();
        for a in &self.addresses {
            if self.override_for(thing, a.protocol).is_none() {
                continue;
            }
            match self.needs(a.protocol) {
                Some(scheme) => definitions.extend(scheme.definitions()),
                None => definitions.push((NOSEC.to_owned(), SecurityDefinition::new("nosec"))),
            }
        }
        definitions
    }
}
