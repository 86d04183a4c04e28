//! The rules a Thing must follow, one function each; every violation is recorded on its token.

use std::collections::HashMap;

use proc_macro2::Span;

use crate::ctxt::Ctxt;
use crate::model::{IdSource, Mode, Receiver, ThingImpl, ThingStruct};

/// Names every generated client has; user members cannot take them.
pub(crate) const CLIENT_RESERVED: &[&str] =
    &["connect", "from_handle", "handle", "with_timeout", "with_options", "thing_id"];

pub(crate) fn check_struct(cx: &Ctxt, s: &ThingStruct) {
    id_is_known(cx, s);
    property_rules(cx, s);
    names_are_unique(
        cx,
        s.properties
            .iter()
            .map(|p| (&p.wire, p.member().span()))
            .chain(s.events.iter().map(|e| (&e.wire, e.member.span()))),
        "a property or event",
    );
    client_names_do_not_clash(cx, struct_client_names(s));
}

fn id_is_known(cx: &Ctxt, s: &ThingStruct) {
    if let IdSource::Missing = s.id {
        cx.error_spanned_by(
            &s.ident,
            "a Thing needs an id: add a field `id: String`, mark one field `#[id]`, or give a fixed id with `#[thing(id = \"...\")]`",
        );
    }
}

fn property_rules(cx: &Ctxt, s: &ThingStruct) {
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

/// The client methods the struct side generates, with the user span each comes from.
fn struct_client_names(s: &ThingStruct) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for p in &s.properties {
        let member = p.member();
        out.push((member.to_string(), member.span()));
        if p.opts.read_only.is_none() {
            out.push((format!("set_{member}"), member.span()));
        }
        if p.opts.observable {
            out.push((format!("{member}_changes"), member.span()));
        }
    }
    for e in &s.events {
        out.push((e.member.to_string(), e.member.span()));
    }
    out
}

fn client_names_do_not_clash(cx: &Ctxt, names: Vec<(String, Span)>) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for (name, span) in names {
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

pub(crate) fn check_impl(cx: &Ctxt, i: &ThingImpl) {
    action_modes(cx, i);
    accessor_rules(cx, i);
    names_are_unique(cx, i.actions.iter().map(|a| (&a.wire, a.ident.span())), "an action");
    names_are_unique(
        cx,
        i.properties.iter().filter_map(|p| p.accessors()?.getter.as_ref().map(|g| (&p.wire, g.span))),
        "a property",
    );
    let mut names: Vec<(String, Span)> = i.actions.iter().map(|a| (a.ident.to_string(), a.ident.span())).collect();
    for (p, a) in i.properties.iter().filter_map(|p| Some((p, p.accessors()?))) {
        if let Some(g) = &a.getter {
            names.push((a.name.to_string(), g.span));
        }
        if let Some(s) = &a.setter {
            names.push((format!("set_{}", a.name), s.span));
        }
        if let Some(g) = a.getter.as_ref().filter(|_| p.opts.observable) {
            names.push((format!("{}_changes", a.name), g.span));
        }
    }
    client_names_do_not_clash(cx, names);
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
        match a.mode() {
            Mode::Threaded if a.is_async => cx.syn_error(syn::Error::new(
                a.opts.threaded.unwrap_or_else(|| a.ident.span()),
                "`threaded` runs blocking code on a worker thread, but this is an `async fn`; use `concurrent` for async actions",
            )),
            Mode::Concurrent if !a.is_async => cx.syn_error(syn::Error::new(
                a.opts.concurrent.unwrap_or_else(|| a.ident.span()),
                "`concurrent` needs an `async fn`; use `threaded` to run a blocking `fn` outside the queue",
            )),
            Mode::Threaded | Mode::Concurrent if a.receiver == Receiver::RefMut => cx.syn_error(syn::Error::new(
                a.receiver_span,
                "threaded and concurrent actions run beside the queue, so they take `&self`, not `&mut self`",
            )),
            _ => {}
        }
    }
}

fn accessor_rules(cx: &Ctxt, i: &ThingImpl) {
    for (p, a) in i.properties.iter().filter_map(|p| Some((p, p.accessors()?))) {
        match (&a.getter, &a.setter) {
            (None, Some(s)) => cx.syn_error(syn::Error::new(
                s.span,
                format!("setter for `{}` has no getter: add `#[property] fn {}(&self) -> T`", p.wire, a.name),
            )),
            (Some(_), Some(s)) if p.opts.read_only.is_some() => {
                let mut e = syn::Error::new(s.span, format!("property `{}` is `read_only` but has a setter", p.wire));
                if let Some(r) = p.opts.read_only {
                    e.combine(syn::Error::new(r, "remove `read_only`, or remove the setter"));
                }
                cx.syn_error(e);
            }
            _ => {}
        }
    }
}
