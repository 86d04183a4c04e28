//! The rules a Thing must follow, one function each (after serde_derive's `check.rs`); every violation is
//! recorded on its token. They run on the model after it is read, in the order the user would fix them:
//! the item, where our attributes are, each member's signature, then how the members fit together.

use std::collections::HashMap;

use proc_macro2::Span;
use quote::ToTokens;
use syn::Type;
use syn::ext::IdentExt;

use crate::ctxt::Ctxt;
use crate::model::{IdSource, Method, Misplaced, Mode, Property, Receiver, ThingImpl, ThingStruct, arg_ident};
use crate::names::{CLIENT_RESERVED, ClientMethod};

/// A Thing has one state (hololinked's rule too): a second `#[state_machine]` is refused.
fn one_state_machine(cx: &Ctxt, s: &ThingStruct) {
    for (_, _, attr) in s.state_machines.iter().skip(1) {
        cx.error_spanned_by(
            attr,
            "a Thing has one state machine: `state` is already the first `#[state_machine]` field",
        );
    }
}

pub(crate) fn check_struct(cx: &Ctxt, s: &ThingStruct) {
    struct_is_not_generic(cx, s);
    struct_has_named_fields(cx, s);
    attributes_are_in_place(cx, &s.misplaced);
    id_marks_are_plain(cx, s);
    one_id_mark(cx, s);
    events_have_data(cx, s);
    id_is_known(cx, s);
    setter_is_on_a_method(cx, s);
    poll_options(cx, s.properties.iter(), true);
    one_state_machine(cx, s);
    names_are_unique(
        cx,
        s.properties
            .iter()
            .map(|p| (&p.wire, p.member().span()))
            .chain(s.events.iter().map(|e| (&e.wire, e.member.span()))),
        "a property or event",
    );
    client_names_do_not_clash(cx, s.client_methods());
}

pub(crate) fn check_impl(cx: &Ctxt, i: &ThingImpl) {
    impl_is_inherent(cx, i);
    impl_is_not_generic(cx, i);
    attributes_are_in_place(cx, &i.misplaced);
    for m in i.methods() {
        signature_is_plain(cx, m);
        receiver_is_a_reference(cx, m);
        returns_are_owned(cx, m);
    }
    action_arguments_are_named_and_owned(cx, i);
    accessors_are_not_async(cx, i);
    setters_are_named_set(cx, i);
    accessor_signatures(cx, i);
    one_getter_and_one_setter(cx, i);
    action_modes(cx, i);
    setter_has_getter(cx, i);
    read_only_has_no_setter(cx, i);
    poll_options(cx, i.properties.iter(), false);
    persisted_accessor_has_setter(cx, i);
    names_are_unique(cx, i.actions.iter().map(|a| (&a.wire, a.method.ident().span())), "an action");
    names_are_unique(
        cx,
        i.properties.iter().filter_map(|p| p.accessors()?.getter().map(|g| (&p.wire, g.ident().span()))),
        "a property",
    );
    client_names_do_not_clash(cx, i.client_methods());
}

fn struct_is_not_generic(cx: &Ctxt, s: &ThingStruct) {
    if !s.generics.params.is_empty() {
        cx.error_spanned_by(
            &s.generics,
            "a Thing cannot be generic: its descriptor and client are generated for one concrete type",
        );
    }
}

fn struct_has_named_fields(cx: &Ctxt, s: &ThingStruct) {
    if let Some(fields) = &s.tuple_fields {
        cx.error_spanned_by(
            fields,
            "a Thing must be a struct with named fields: properties and events are named after its fields",
        );
    }
}

fn attributes_are_in_place(cx: &Ctxt, misplaced: &[Misplaced]) {
    for m in misplaced {
        match m {
            Misplaced::SecondOnField(a) => {
                cx.error_spanned_by(a, "a field is either a `#[property]` or an `#[event]`, once")
            }
            Misplaced::SecondOnMethod(a) => {
                cx.error_spanned_by(a, "a method is either an `#[action]` or a `#[property]`, once")
            }
            Misplaced::EventOnMethod(a) => {
                cx.error_spanned_by(a, "`#[event]` goes on a struct field of type `Event<T>`, not on a method")
            }
            Misplaced::ParamOutsideAction(a) => {
                cx.error_spanned_by(a, "`#[param]` only applies to the arguments of an `#[action]`")
            }
        }
    }
}

fn id_marks_are_plain(cx: &Ctxt, s: &ThingStruct) {
    for a in s.id_marks.iter().filter(|a| !matches!(a.meta, syn::Meta::Path(_))) {
        cx.error_spanned_by(a, "`#[id]` takes no arguments");
    }
}

fn one_id_mark(cx: &Ctxt, s: &ThingStruct) {
    for a in s.id_marks.iter().skip(1) {
        cx.error_spanned_by(a, "only one field can be the Thing's `#[id]`");
    }
}

fn events_have_data(cx: &Ctxt, s: &ThingStruct) {
    for e in s.events.iter().filter(|e| e.data.is_none()) {
        cx.error_spanned_by(&e.ty, "an `#[event]` field must have the type `Event<T>`, where `T` is the event's data");
    }
}

fn id_is_known(cx: &Ctxt, s: &ThingStruct) {
    if let IdSource::Missing = s.id {
        cx.error_spanned_by(
            &s.ident,
            "a Thing needs an id: add a field `id: String`, mark one field `#[id]`, or give a fixed id with `#[thing(id = \"...\")]`",
        );
    }
}

/// `poll`, `abs_change` and `rel_change`: on an observable getter, the thresholds only with `poll`.
fn poll_options<'a>(cx: &Ctxt, properties: impl Iterator<Item = &'a Property>, on_fields: bool) {
    for p in properties {
        let o = &p.opts;
        let spans = o.poll.map(|(_, s)| s).into_iter().chain(o.abs_change.iter().chain(&o.rel_change).map(|(_, s)| *s));
        if on_fields {
            for span in spans {
                cx.syn_error(syn::Error::new(
                    span,
                    "polling reads a getter that asks the hardware: it goes on a `#[property]` method in the impl \
                     block (a field only changes through the Thing's own code, whose changes are published anyway)",
                ));
            }
            continue;
        }
        match o.poll {
            Some((_, span)) if !o.observable => cx.syn_error(syn::Error::new(
                span,
                "a polled property publishes its changes: add `observable` (`#[property(observable, poll = \"1s\")]`)",
            )),
            None => {
                for (_, span) in o.abs_change.iter().chain(&o.rel_change) {
                    cx.syn_error(syn::Error::new(
                        *span,
                        "a change threshold applies to a polled property: add `poll = \"1s\"` (how often to read it)",
                    ));
                }
            }
            _ => {}
        }
    }
}

fn setter_is_on_a_method(cx: &Ctxt, s: &ThingStruct) {
    for p in &s.properties {
        if let Some(span) = p.opts.setter {
            cx.syn_error(syn::Error::new(
                span,
                "`setter` belongs on a `set_<name>` method in the `#[thing]` impl block, not on a field",
            ));
        }
    }
}

fn names_are_unique<'a>(cx: &Ctxt, names: impl Iterator<Item = (&'a String, Span)>, what: &str) {
    let mut seen: HashMap<&String, Span> = HashMap::new();
    for (name, span) in names {
        if seen.insert(name, span).is_some() {
            cx.syn_error(syn::Error::new(span, format!("{what} named `{name}` already exists on this Thing")));
        }
    }
}

/// A member cannot make a client method that the client has already, or that another member makes: the
/// names compared are the ones callers write (`r#connect` makes `connect`).
fn client_names_do_not_clash(cx: &Ctxt, methods: Vec<ClientMethod<'_>>) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for m in methods {
        let (name, span) = (m.name(), m.span());
        if CLIENT_RESERVED.contains(&name.as_str()) {
            cx.syn_error(syn::Error::new(
                span,
                format!("`{name}` clashes with the generated client's own `{name}` method; rename the member (use `rename = \"{name}\"` to keep the name on the wire)"),
            ));
        } else if let Some(first) = seen.insert(name.clone(), span) {
            let mut e = syn::Error::new(
                span,
                format!("the generated client would have two methods named `{name}`; rename one of these members"),
            );
            e.combine(syn::Error::new(first, format!("the other member that makes `{name}`")));
            cx.syn_error(e);
        }
    }
}

fn impl_is_inherent(cx: &Ctxt, i: &ThingImpl) {
    if let Some(path) = &i.trait_path {
        cx.error_spanned_by(path, "`#[thing]` goes on the Thing's own `impl` block, not on a trait impl");
    }
}

fn impl_is_not_generic(cx: &Ctxt, i: &ThingImpl) {
    if !i.generics.params.is_empty() {
        cx.error_spanned_by(&i.generics, "a Thing's impl block cannot be generic");
    }
}

/// Clients call actions and properties with concrete types, through a plain method.
fn signature_is_plain(cx: &Ctxt, m: &Method) {
    let sig = &m.sig;
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            "actions and properties cannot be generic: clients call them with concrete types",
        );
    }
    if let Some(c) = &sig.constness {
        cx.error_spanned_by(c, "a `const fn` cannot be an action or a property");
    }
    if let Some(u) = &sig.unsafety {
        cx.error_spanned_by(u, "an `unsafe fn` cannot be an action or a property");
    }
    if let Some(v) = &sig.variadic {
        cx.error_spanned_by(v, "variadic functions cannot be actions");
    }
}

fn receiver_is_a_reference(cx: &Ctxt, m: &Method) {
    match m.sig.inputs.first() {
        Some(syn::FnArg::Receiver(r)) if r.colon_token.is_some() => {
            cx.error_spanned_by(r, "write the receiver as `&self` or `&mut self`");
        }
        Some(syn::FnArg::Receiver(r)) if r.reference.is_none() => {
            cx.error_spanned_by(r, "`self` by value would consume the Thing; take `&self` or `&mut self`");
        }
        Some(syn::FnArg::Receiver(_)) => {}
        _ => cx.error_spanned_by(m.ident(), "actions and properties are methods: add `&self` or `&mut self`"),
    }
}

fn returns_are_owned(cx: &Ctxt, m: &Method) {
    if let syn::ReturnType::Type(_, ty) = &m.sig.output
        && let Type::Reference(r) = &**ty
    {
        cx.error_spanned_by(
            r,
            "actions and properties return owned values, which are sent to the caller (e.g. `String`, not `&str`)",
        );
    }
}

/// Clients pass arguments by name, and the server decodes them into owned values of concrete types.
fn action_arguments_are_named_and_owned(cx: &Ctxt, i: &ThingImpl) {
    for arg in i.actions.iter().flat_map(|a| a.method.args()) {
        if arg_ident(&arg.pat).is_none() {
            cx.error_spanned_by(&arg.pat, "action arguments must be plain names: clients pass them by name");
            continue;
        }
        if let Type::Reference(r) = &*arg.ty {
            cx.error_spanned_by(
                r,
                "action arguments must be owned values decoded from the request (e.g. `String`, not `&str`)",
            );
        }
        if matches!(&*arg.ty, Type::ImplTrait(_)) {
            cx.error_spanned_by(&arg.ty, "action arguments need concrete types, not `impl Trait`");
        }
    }
}

fn accessors_are_not_async(cx: &Ctxt, i: &ThingImpl) {
    for a in i.accessor_methods().filter_map(|m| m.sig.asyncness.as_ref()) {
        cx.error_spanned_by(a, "property getters and setters cannot be `async`; make an `#[action]` instead");
    }
}

fn setters_are_named_set(cx: &Ctxt, i: &ThingImpl) {
    for m in &i.misnamed_setters {
        cx.error_spanned_by(m.ident(), "a property setter must be named `set_<property>`, e.g. `set_temperature`");
    }
}

/// A getter is `fn x(&self) -> T`; a setter is `fn set_x(&mut self, value: T)`.
fn accessor_signatures(cx: &Ctxt, i: &ThingImpl) {
    // The receiver, where there is one, else nothing (the receiver rule has said it is missing).
    let receiver = |m: &Method| m.sig.inputs.first().map(ToTokens::to_token_stream).unwrap_or_default();
    for a in i.properties.iter().filter_map(|p| p.accessors()) {
        for g in &a.getters {
            if g.receiver != Receiver::Ref {
                cx.error_spanned_by(receiver(g), "a property getter takes `&self`");
            }
            if let Some(extra) = g.args().next() {
                cx.error_spanned_by(extra, "a property getter takes no arguments besides `&self`");
            }
            if g.returns.value().is_none() {
                cx.error_spanned_by(g.ident(), "a property getter must return its value");
            }
        }
        for s in a.setters.iter().map(|s| &s.method) {
            if s.receiver != Receiver::RefMut {
                cx.error_spanned_by(receiver(s), "a property setter takes `&mut self`");
            }
            let message = "a property setter takes exactly one value: `fn set_x(&mut self, value: T)`";
            match (s.args().count(), s.args().nth(1)) {
                (1, _) => {}
                (_, Some(extra)) => cx.error_spanned_by(extra, message),
                (_, None) => cx.error_spanned_by(s.ident(), message),
            }
        }
    }
}

/// Two getters (or setters) for one property, which can only be told apart by their `#[cfg]`s.
fn one_getter_and_one_setter(cx: &Ctxt, i: &ThingImpl) {
    for (p, a) in i.properties.iter().filter_map(|p| Some((p, p.accessors()?))) {
        for pair in a.getters.windows(2) {
            let mut e = syn::Error::new(pair[1].ident().span(), format!("property `{}` has two getters", p.wire));
            e.combine(syn::Error::new(pair[0].ident().span(), "the first getter"));
            cx.syn_error(e);
        }
        for pair in a.setters.windows(2) {
            let message = format!("property `{}` has two setters", a.name.unraw());
            let mut e = syn::Error::new(pair[1].method.ident().span(), message);
            e.combine(syn::Error::new(pair[0].method.ident().span(), "the first setter"));
            cx.syn_error(e);
        }
    }
}

fn action_modes(cx: &Ctxt, i: &ThingImpl) {
    for a in &i.actions {
        if let (Some(t), Some(_)) = (a.opts.threaded, a.opts.concurrent) {
            cx.syn_error(syn::Error::new(
                t,
                "an action is `threaded` (blocking `fn`) or `concurrent` (`async fn`), not both",
            ));
            continue;
        }
        let (is_async, ident) = (a.method.is_async(), a.method.ident());
        match a.mode() {
            Mode::Threaded if is_async => cx.syn_error(syn::Error::new(
                a.opts.threaded.unwrap_or_else(|| ident.span()),
                "`threaded` runs blocking code on a worker thread, but this is an `async fn`; use `concurrent` for async actions",
            )),
            Mode::Concurrent if !is_async => cx.syn_error(syn::Error::new(
                a.opts.concurrent.unwrap_or_else(|| ident.span()),
                "`concurrent` needs an `async fn`; use `threaded` to run a blocking `fn` outside the queue",
            )),
            Mode::Threaded | Mode::Concurrent if a.method.receiver == Receiver::RefMut => {
                cx.syn_error(syn::Error::new(
                    a.method.receiver_span(),
                    "threaded and concurrent actions run beside the queue, so they take `&self`, not `&mut self`",
                ))
            }
            _ => {}
        }
    }
}

fn setter_has_getter(cx: &Ctxt, i: &ThingImpl) {
    for (p, a) in i.properties.iter().filter_map(|p| Some((p, p.accessors()?))) {
        if let (None, Some(s)) = (a.getter(), a.setter()) {
            cx.syn_error(syn::Error::new(
                s.method.ident().span(),
                format!("setter for `{}` has no getter: add `#[property] fn {}(&self) -> T`", p.wire, a.name),
            ));
        }
    }
}

fn read_only_has_no_setter(cx: &Ctxt, i: &ThingImpl) {
    for (p, a) in i.properties.iter().filter_map(|p| Some((p, p.accessors()?))) {
        if let (Some(_), Some(s), Some(r)) = (a.getter(), a.setter(), p.opts.read_only) {
            let mut e = syn::Error::new(
                s.method.ident().span(),
                format!("property `{}` is `read_only` but has a setter", p.wire),
            );
            e.combine(syn::Error::new(r, "remove `read_only`, or remove the setter"));
            cx.syn_error(e);
        }
    }
}

/// A getter/setter property is stored from what its getter reads after a write and restored through its
/// setter: without a setter there is neither.
fn persisted_accessor_has_setter(cx: &Ctxt, i: &ThingImpl) {
    for p in &i.properties {
        let (Some(a), Some(persist)) = (p.accessors(), p.opts.persist) else { continue };
        if a.getter().is_some() && a.setter().is_none() {
            cx.syn_error(syn::Error::new(
                persist.span,
                format!(
                    "property `{}` has no setter, so it cannot be persisted: a getter/setter property is restored \
                     through its setter and stored when it is written; add `#[property(setter)] fn set_{}`, or \
                     remove `persist`",
                    p.wire,
                    a.name.unraw()
                ),
            ));
        }
    }
}
