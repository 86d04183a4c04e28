//! The methods the generated client gets for the members: computed here once, for the clash checks (in
//! `check.rs` and the impl block's compile-time assertions) and for the client expansion, so that what is
//! checked is what is generated. Names are compared unraw: `r#connect` makes the client method `connect`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Attribute, Ident};

use crate::model::{Action, FieldEvent, Property, PropertySource, ThingImpl, ThingStruct};

/// Methods every generated client has; members cannot make methods of these names.
pub(crate) const CLIENT_RESERVED: &[&str] =
    &["connect", "from_handle", "handle", "with_timeout", "with_options", "thing_id"];

/// One method the generated client gets for a member.
pub(crate) struct ClientMethod<'a> {
    /// As generated, spanned on the member it is made for (raw when the member is written raw).
    pub(crate) ident: Ident,
    /// The `#[cfg]`s it is compiled under.
    pub(crate) cfgs: &'a [Attribute],
}

impl ClientMethod<'_> {
    /// The name callers write, which is what clashes: `connect` for both `connect` and `r#connect`.
    pub(crate) fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// The member the method is made for.
    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }
}

/// The client methods of one property.
pub(crate) struct PropertyMethods<'a> {
    /// `x()`, unless the property has no getter (which the checks refuse).
    pub(crate) getter: Option<ClientMethod<'a>>,
    /// `set_x(value)` when it is writable.
    pub(crate) setter: Option<ClientMethod<'a>>,
    /// `x_changes()` when it is observable.
    pub(crate) changes: Option<ClientMethod<'a>>,
}

impl<'a> PropertyMethods<'a> {
    fn all(self) -> impl Iterator<Item = ClientMethod<'a>> {
        self.getter.into_iter().chain(self.setter).chain(self.changes)
    }
}

impl Property {
    /// The client methods for the property; reads point at the field or getter, writes at the field or setter.
    pub(crate) fn client_methods(&self) -> PropertyMethods<'_> {
        let member = self.member();
        let name = member.unraw();
        let (read, write) = match &self.source {
            PropertySource::Field { .. } => (Some(member.span()), Some(member.span())),
            PropertySource::Accessor(a) => {
                (a.getter().map(|g| g.ident().span()), a.setter().map(|s| s.method.ident().span()))
            }
        };
        let getter = read.map(|span| {
            let mut ident = member.clone();
            ident.set_span(span);
            ClientMethod { ident, cfgs: self.cfgs() }
        });
        let setter = write
            .zip(self.write_cfgs())
            .map(|(span, cfgs)| ClientMethod { ident: Ident::new(&format!("set_{name}"), span), cfgs });
        let changes = read
            .filter(|_| self.opts.observable)
            .map(|span| ClientMethod { ident: Ident::new(&format!("{name}_changes"), span), cfgs: self.cfgs() });
        PropertyMethods { getter, setter, changes }
    }
}

impl FieldEvent {
    /// `event()`, which gives the event's client.
    pub(crate) fn client_method(&self) -> ClientMethod<'_> {
        ClientMethod { ident: self.member.clone(), cfgs: &self.cfgs }
    }
}

impl Action {
    pub(crate) fn client_method(&self) -> ClientMethod<'_> {
        ClientMethod { ident: self.method.ident().clone(), cfgs: &self.method.cfgs }
    }
}

impl ThingStruct {
    /// The client methods the struct's expansion generates (besides the client's own).
    pub(crate) fn client_methods(&self) -> Vec<ClientMethod<'_>> {
        let properties = self.properties.iter().flat_map(|p| p.client_methods().all());
        properties.chain(self.events.iter().map(FieldEvent::client_method)).collect()
    }
}

impl ThingImpl {
    /// The client methods the impl block's expansion generates.
    pub(crate) fn client_methods(&self) -> Vec<ClientMethod<'_>> {
        let actions = self.actions.iter().map(Action::client_method);
        actions.chain(self.properties.iter().flat_map(|p| p.client_methods().all())).collect()
    }
}
