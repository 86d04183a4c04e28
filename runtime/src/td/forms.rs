//! How a protocol binding adds its forms to a Thing's TD.

use std::fmt;

use super::{Form, SecurityDefinition, SecurityScheme, thing_urn};
use crate::thing::{ActionDescriptor, EventDescriptor, PropertyDescriptor, ThingDescriptor};

/// A protocol binding's part of a Thing Description: the forms through which it serves each affordance.
///
/// [`ThingDescription`](super::ThingDescription) asks every source it is given for the forms of the
/// Thing as a whole and of each property, action and event it lists, and writes them in the order the
/// sources were given, ZeroMQ's ([`ZmqForms`](super::ZmqForms), from
/// [`served_on`](super::ThingDescription::served_on)) first — hololinked's client takes the first form.
///
/// An HTTP binding, say, answers a property with one form per method:
///
/// ```
/// use thingwire::td::{Affordance, Form, FormSource, HTV_METHOD_NAME, Operation, ThingInfo};
///
/// #[derive(Debug)]
/// struct Http {
///     base: String,
/// }
///
/// impl FormSource for Http {
///     fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form> {
///         match affordance {
///             Affordance::Property(p) => {
///                 let href = format!("{}/{}/{}", self.base, thing.thing_id, p.name);
///                 let mut forms = vec![Form::new(&href, Operation::ReadProperty).with_term(HTV_METHOD_NAME, "GET")];
///                 if !p.read_only {
///                     forms.push(Form::new(&href, Operation::WriteProperty).with_term(HTV_METHOD_NAME, "PUT"));
///                 }
///                 forms
///             }
///             _ => Vec::new(),
///         }
///     }
/// }
/// ```
pub trait FormSource: fmt::Debug {
    /// The forms this binding serves for `affordance` of `thing`, the one clients should prefer first; none
    /// when the binding does not serve it.
    fn forms(&self, thing: &ThingInfo<'_>, affordance: Affordance<'_>) -> Vec<Form>;

    /// The security definitions the forms name besides the TD's own scheme ([`ThingInfo::security`]),
    /// by name: e.g. the `nosec_sc` of ZeroMQ forms over IPC in a TD whose TCP forms need credentials.
    /// None by default.
    fn security_definitions(&self, thing: &ThingInfo<'_>) -> Vec<(String, SecurityDefinition)> {
        let _ = thing;
        Vec::new()
    }
}

/// The Thing a TD describes, as form sources see it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ThingInfo<'a> {
    /// The static description.
    pub descriptor: &'a ThingDescriptor,
    /// The id of the server that serves it.
    pub server_id: &'a str,
    /// The Thing's id on that server (the `thingID` of requests).
    pub thing_id: &'a str,
    /// The scheme the TD's `security` names, which every form needs unless it says otherwise; `None` for
    /// plain `nosec`.
    pub security: Option<&'a SecurityScheme>,
}

impl ThingInfo<'_> {
    /// The TD `id`: [`thing_urn`] of the server and Thing ids.
    pub fn id(&self) -> String {
        thing_urn(self.server_id, self.thing_id)
    }
}

/// What a form source is asked for the forms of.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Affordance<'a> {
    /// The Thing as a whole: the TD's own `forms` (`readallproperties`, `readmultipleproperties`, …).
    Thing,
    /// A property.
    Property(&'a PropertyDescriptor),
    /// An action, including the built-in [`PING`](super::PING) and
    /// [`GET_THING_MODEL`](super::GET_THING_MODEL).
    Action(&'a ActionDescriptor),
    /// An event.
    Event(&'a EventDescriptor),
}

impl Affordance<'_> {
    /// The affordance's name (`None` for the Thing).
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Self::Thing => None,
            Self::Property(p) => Some(p.name),
            Self::Action(a) => Some(a.name),
            Self::Event(e) => Some(e.name),
        }
    }
}
