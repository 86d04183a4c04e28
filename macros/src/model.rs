//! The plain-data model of a Thing, read from the struct and from the impl block. It keeps the original
//! syntax (idents, types, attributes) for spans; it holds no generated tokens. One model feeds the server
//! dispatch, the descriptors and the client.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Ident, LitStr, Type};

use crate::attr::{self, ActionOpts, EventOpts, PropertyOpts, ThingAttrs, ValueOpts};
use crate::ctxt::Ctxt;
use crate::symbol::{ACTION, EVENT, ID, PARAM, PROPERTY, Symbol};

/// The struct side.
pub(crate) struct ThingStruct {
    pub(crate) ident: Ident,
    pub(crate) vis: syn::Visibility,
    pub(crate) attrs: ThingAttrs,
    pub(crate) docs: Option<String>,
    pub(crate) id: IdSource,
    pub(crate) properties: Vec<Property>,
    pub(crate) events: Vec<FieldEvent>,
}

/// Where the Thing's id comes from.
pub(crate) enum IdSource {
    Field(Ident, Box<Type>),
    Fixed(LitStr),
    Missing,
}

/// A property of the Thing, whether a field of the struct or a getter (and setter) of the impl block: one
/// model, so that its descriptor entry, read and write arms, type assertions and client methods each have
/// one generator.
pub(crate) struct Property {
    /// The name on the wire and in the TD.
    pub(crate) wire: String,
    /// The doc comment (the field's or the getter's): the TD description unless `description` is given.
    pub(crate) docs: Option<String>,
    pub(crate) opts: PropertyOpts,
    pub(crate) source: PropertySource,
}

/// Where a property's value lives.
#[allow(clippy::large_enum_variant, reason = "a handful per macro call, built once and read in place")]
pub(crate) enum PropertySource {
    /// A field of the struct, read and written in place.
    Field { member: Ident, ty: Type, doc_attrs: Vec<Attribute>, cfgs: Vec<Attribute> },
    /// Methods of the impl block, which run the Thing's own code.
    Accessor(Accessors),
}

/// The getter and setter of one property.
pub(crate) struct Accessors {
    /// The name the methods share (`x` for `x`/`set_x`), whatever the wire name; raw (`r#type`) for a keyword.
    pub(crate) name: Ident,
    pub(crate) getter: Option<Accessor>,
    pub(crate) setter: Option<Accessor>,
}

impl Property {
    /// The type of the value: the field's, or what the getter returns (`None` without a getter, which the
    /// checks refuse).
    pub(crate) fn ty(&self) -> Option<&Type> {
        match &self.source {
            PropertySource::Field { ty, .. } => Some(ty),
            PropertySource::Accessor(a) => a.getter.as_ref()?.returns.value(),
        }
    }

    /// The `#[cfg]`s repeated on everything generated for the property (the field's, or the getter's).
    pub(crate) fn cfgs(&self) -> &[Attribute] {
        match &self.source {
            PropertySource::Field { cfgs, .. } => cfgs,
            PropertySource::Accessor(a) => a.getter.as_ref().map_or(&[], |g| &g.cfgs),
        }
    }

    /// The doc attributes forwarded to the client's getter.
    pub(crate) fn doc_attrs(&self) -> &[Attribute] {
        match &self.source {
            PropertySource::Field { doc_attrs, .. } => doc_attrs,
            PropertySource::Accessor(a) => a.getter.as_ref().map_or(&[], |g| &g.doc_attrs),
        }
    }

    /// The Rust name the property's client methods are made from: the field, or the accessors' shared name.
    pub(crate) fn member(&self) -> &Ident {
        match &self.source {
            PropertySource::Field { member, .. } => member,
            PropertySource::Accessor(a) => &a.name,
        }
    }

    /// Whether reads and writes run the Thing's own code (`PropertyDescriptor::computed`).
    pub(crate) fn computed(&self) -> bool {
        matches!(self.source, PropertySource::Accessor(_))
    }

    /// The `#[cfg]`s under which the property can be written (its write arm and client setter: the field's
    /// own, or the setter's); `None` when it is read-only.
    pub(crate) fn write_cfgs(&self) -> Option<&[Attribute]> {
        match &self.source {
            PropertySource::Field { cfgs, .. } => self.opts.read_only.is_none().then_some(cfgs.as_slice()),
            PropertySource::Accessor(a) => a.setter.as_ref().map(|s| s.cfgs.as_slice()),
        }
    }

    pub(crate) fn accessors(&self) -> Option<&Accessors> {
        match &self.source {
            PropertySource::Field { .. } => None,
            PropertySource::Accessor(a) => Some(a),
        }
    }
}

pub(crate) struct FieldEvent {
    pub(crate) member: Ident,
    /// The `T` of `Event<T>`.
    pub(crate) data: Option<Type>,
    pub(crate) ty: Type,
    pub(crate) wire: String,
    pub(crate) opts: EventOpts,
    pub(crate) docs: Option<String>,
    pub(crate) doc_attrs: Vec<Attribute>,
    pub(crate) cfgs: Vec<Attribute>,
}

/// Whether `a` is one of our attributes, written bare (`#[action]`) or with a path (`#[thingwire::action]`).
fn is_ours(a: &Attribute, names: &[Symbol]) -> bool {
    a.path().segments.last().is_some_and(|s| names.iter().any(|n| s.ident == *n))
}

/// Reads the struct and strips our attributes from it (the stripped struct is emitted as it is).
pub(crate) fn read_struct(cx: &Ctxt, attrs: ThingAttrs, item: &mut syn::ItemStruct) -> ThingStruct {
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(
            &item.generics,
            "a Thing cannot be generic: its descriptor and client are generated for one concrete type",
        );
    }
    let fields = match &mut item.fields {
        syn::Fields::Named(f) => Some(&mut f.named),
        syn::Fields::Unnamed(_) => {
            cx.error_spanned_by(
                &item.fields,
                "a Thing must be a struct with named fields: properties and events are named after its fields",
            );
            None
        }
        syn::Fields::Unit => None,
    };
    let mut properties = Vec::new();
    let mut events = Vec::new();
    let mut id_field = None;
    let mut marked_id = None;
    for field in fields.into_iter().flatten() {
        let Some(member) = field.ident.clone() else { continue };
        let ours: Vec<Attribute> = field.attrs.iter().filter(|a| is_ours(a, &[PROPERTY, EVENT, ID])).cloned().collect();
        field.attrs.retain(|a| !is_ours(a, &[PROPERTY, EVENT, ID]));
        let docs = attr::docs(&field.attrs);
        let doc_attrs = attr::doc_attrs(&field.attrs);
        let cfgs = attr::cfgs(&field.attrs);
        if member == "id" {
            id_field = Some((member.clone(), Box::new(field.ty.clone())));
        }
        let kinds: Vec<&Attribute> = ours.iter().filter(|a| !is_ours(a, &[ID])).collect();
        if kinds.len() > 1 {
            cx.error_spanned_by(kinds[1], "a field is either a `#[property]` or an `#[event]`, once");
        }
        for a in ours.iter().filter(|a| is_ours(a, &[ID])) {
            if !matches!(a.meta, syn::Meta::Path(_)) {
                cx.error_spanned_by(a, "`#[id]` takes no arguments");
            }
            if marked_id.replace((member.clone(), Box::new(field.ty.clone()))).is_some() {
                cx.error_spanned_by(a, "only one field can be the Thing's `#[id]`");
            }
        }
        let Some(kind) = kinds.first() else { continue };
        if is_ours(kind, &[PROPERTY]) {
            let opts = attr::property_opts(cx, kind, false);
            let wire = opts.rename.as_ref().map(LitStr::value).unwrap_or_else(|| member.unraw().to_string());
            let source = PropertySource::Field { member, ty: field.ty.clone(), doc_attrs, cfgs };
            properties.push(Property { wire, docs, opts, source });
        } else {
            let opts = attr::event_opts(cx, kind);
            let wire = opts.rename.as_ref().map(LitStr::value).unwrap_or_else(|| member.unraw().to_string());
            let data = event_data(&field.ty);
            if data.is_none() {
                cx.error_spanned_by(
                    &field.ty,
                    "an `#[event]` field must have the type `Event<T>`, where `T` is the event's data",
                );
            }
            events.push(FieldEvent { member, data, ty: field.ty.clone(), wire, opts, docs, doc_attrs, cfgs });
        }
    }
    let id = match (&attrs.id, marked_id.or(id_field)) {
        (Some(fixed), _) => IdSource::Fixed(fixed.clone()),
        (None, Some((field, ty))) => IdSource::Field(field, ty),
        (None, None) => IdSource::Missing,
    };
    let docs = attr::docs(&item.attrs);
    ThingStruct { ident: item.ident.clone(), vis: item.vis.clone(), attrs, docs, id, properties, events }
}

/// `T` of a type written `Event<T>` (with any path before `Event`).
fn event_data(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Event" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first()? {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The impl side.
pub(crate) struct ThingImpl {
    pub(crate) self_ty: Type,
    pub(crate) self_ident: Ident,
    pub(crate) actions: Vec<Action>,
    pub(crate) properties: Vec<Property>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Ref,
    RefMut,
}

#[derive(Clone)]
pub(crate) enum Returns {
    Unit,
    Value(Box<Type>),
    /// `err` is `None` for an alias such as `io::Result<T>`.
    Result {
        ok: Option<Box<Type>>,
        err: Option<Box<Type>>,
    },
}

impl Returns {
    /// The value type a caller gets (`None`: nothing).
    pub(crate) fn value(&self) -> Option<&Type> {
        match self {
            Self::Unit => None,
            Self::Value(t) => Some(t),
            Self::Result { ok, .. } => ok.as_deref(),
        }
    }
}

pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
    /// `U` when the type is `Option<U>`: the argument may be left out.
    pub(crate) optional: bool,
    pub(crate) wire: String,
    pub(crate) value: ValueOpts,
}

pub(crate) struct Action {
    pub(crate) ident: Ident,
    pub(crate) wire: String,
    pub(crate) receiver: Receiver,
    pub(crate) receiver_span: Span,
    pub(crate) is_async: bool,
    pub(crate) params: Vec<Param>,
    pub(crate) returns: Returns,
    pub(crate) opts: ActionOpts,
    pub(crate) docs: Option<String>,
    pub(crate) doc_attrs: Vec<Attribute>,
    pub(crate) cfgs: Vec<Attribute>,
}

impl Action {
    pub(crate) fn mode(&self) -> Mode {
        if self.opts.threaded.is_some() {
            Mode::Threaded
        } else if self.opts.concurrent.is_some() {
            Mode::Concurrent
        } else {
            Mode::Queued
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Queued,
    Concurrent,
    Threaded,
}

pub(crate) struct Accessor {
    pub(crate) ident: Ident,
    pub(crate) returns: Returns,
    pub(crate) value_ty: Option<Type>,
    pub(crate) doc_attrs: Vec<Attribute>,
    pub(crate) cfgs: Vec<Attribute>,
    pub(crate) span: Span,
}

/// Reads the impl block and strips our attributes from it.
pub(crate) fn read_impl(cx: &Ctxt, item: &mut syn::ItemImpl) -> ThingImpl {
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(path, "`#[thing]` goes on the Thing's own `impl` block, not on a trait impl");
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(&item.generics, "a Thing's impl block cannot be generic");
    }
    let self_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let self_ident = self_ident.unwrap_or_else(|| {
        cx.error_spanned_by(&item.self_ty, "`#[thing]` expects `impl TypeName { ... }`");
        Ident::new("__Unknown", Span::call_site())
    });
    let self_ty = (*item.self_ty).clone();
    let mut actions = Vec::new();
    let mut properties: Vec<Property> = Vec::new();
    for impl_item in &mut item.items {
        let syn::ImplItem::Fn(method) = impl_item else { continue };
        let ours: Vec<Attribute> =
            method.attrs.iter().filter(|a| is_ours(a, &[ACTION, PROPERTY, EVENT])).cloned().collect();
        method.attrs.retain(|a| !is_ours(a, &[ACTION, PROPERTY, EVENT]));
        // Strip `#[param]` from the arguments whatever happens below.
        let mut param_attrs = Vec::new();
        for input in &mut method.sig.inputs {
            if let syn::FnArg::Typed(pt) = input {
                param_attrs.push(pt.attrs.iter().filter(|a| is_ours(a, &[PARAM])).cloned().collect::<Vec<_>>());
                pt.attrs.retain(|a| !is_ours(a, &[PARAM]));
            }
        }
        let Some(kind) = ours.first() else {
            for attrs in param_attrs.iter().flatten() {
                cx.error_spanned_by(attrs, "`#[param]` only applies to the arguments of an `#[action]`");
            }
            continue;
        };
        if ours.len() > 1 {
            cx.error_spanned_by(&ours[1], "a method is either an `#[action]` or a `#[property]`, once");
        }
        if is_ours(kind, &[EVENT]) {
            cx.error_spanned_by(kind, "`#[event]` goes on a struct field of type `Event<T>`, not on a method");
            continue;
        }
        let sig = &method.sig;
        check_signature(cx, sig);
        let receiver = receiver(cx, sig);
        let returns = with_self(returns(cx, &sig.output), &self_ty);
        let docs = attr::docs(&method.attrs);
        let doc_attrs = attr::doc_attrs(&method.attrs);
        let cfgs = attr::cfgs(&method.attrs);
        let ident = sig.ident.clone();
        if is_ours(kind, &[ACTION]) {
            let opts = attr::action_opts(cx, kind);
            let wire = opts.rename.as_ref().map(LitStr::value).unwrap_or_else(|| ident.unraw().to_string());
            let mut params = params(cx, sig, &param_attrs);
            for p in &mut params {
                ReplaceSelf(&self_ty).visit_type_mut(&mut p.ty);
            }
            let receiver_span = sig.inputs.first().map(Spanned::span).unwrap_or_else(|| ident.span());
            actions.push(Action {
                ident,
                wire,
                receiver,
                receiver_span,
                is_async: sig.asyncness.is_some(),
                params,
                returns,
                opts,
                docs,
                doc_attrs,
                cfgs,
            });
            continue;
        }
        // A getter or setter property.
        for attrs in param_attrs.iter().flatten() {
            cx.error_spanned_by(attrs, "`#[param]` only applies to the arguments of an `#[action]`");
        }
        let errors_before = cx.error_count();
        let opts = attr::property_opts(cx, kind, true);
        if cx.error_count() > errors_before {
            // The attribute itself is wrong: checking the method against a guess would only add noise.
            continue;
        }
        if let Some(a) = &sig.asyncness {
            cx.error_spanned_by(a, "property getters and setters cannot be `async`; make an `#[action]` instead");
        }
        let is_setter = opts.setter.is_some();
        let unraw = ident.unraw().to_string();
        let base = if is_setter {
            match unraw.strip_prefix("set_") {
                Some(b) if !b.is_empty() => b.to_owned(),
                _ => {
                    cx.error_spanned_by(
                        &ident,
                        "a property setter must be named `set_<property>`, e.g. `set_temperature`",
                    );
                    continue;
                }
            }
        } else {
            unraw
        };
        let typed: Vec<&syn::PatType> =
            sig.inputs.iter().filter_map(|i| if let syn::FnArg::Typed(t) = i { Some(t) } else { None }).collect();
        let value_ty = if is_setter {
            if receiver != Receiver::RefMut {
                cx.error_spanned_by(
                    sig.inputs.first().map(|f| quote::quote!(#f)).unwrap_or_default(),
                    "a property setter takes `&mut self`",
                );
            }
            if typed.len() != 1 {
                match typed.get(1) {
                    Some(extra) => cx.error_spanned_by(
                        extra,
                        "a property setter takes exactly one value: `fn set_x(&mut self, value: T)`",
                    ),
                    None => cx.error_spanned_by(
                        &sig.ident,
                        "a property setter takes exactly one value: `fn set_x(&mut self, value: T)`",
                    ),
                }
            }
            typed.first().map(|t| {
                let mut ty = (*t.ty).clone();
                ReplaceSelf(&self_ty).visit_type_mut(&mut ty);
                ty
            })
        } else {
            if receiver != Receiver::Ref {
                cx.error_spanned_by(
                    sig.inputs.first().map(|f| quote::quote!(#f)).unwrap_or_default(),
                    "a property getter takes `&self`",
                );
            }
            if let Some(extra) = typed.first() {
                cx.error_spanned_by(extra, "a property getter takes no arguments besides `&self`");
            }
            if returns.value().is_none() {
                cx.error_spanned_by(&sig.ident, "a property getter must return its value");
            }
            None
        };
        let accessor = Accessor { ident: ident.clone(), returns, value_ty, doc_attrs, cfgs, span: ident.span() };
        let index = match properties.iter().position(|p| p.accessors().is_some_and(|a| a.name.unraw() == base)) {
            Some(i) => i,
            None => {
                let name = ident_for(&base, ident.span());
                let source = PropertySource::Accessor(Accessors { name, getter: None, setter: None });
                properties.push(Property { wire: base.clone(), docs: None, opts: PropertyOpts::default(), source });
                properties.len() - 1
            }
        };
        let Property { wire, docs: entry_docs, opts: entry_opts, source: PropertySource::Accessor(entry) } =
            &mut properties[index]
        else {
            continue;
        };
        if is_setter {
            if let Some(first) = entry.setter.replace(accessor) {
                let mut e = syn::Error::new(ident.span(), format!("property `{base}` has two setters"));
                e.combine(syn::Error::new(first.span, "the first setter"));
                cx.syn_error(e);
            }
            // Bounds given on the setter count too.
            entry_opts.value.bounds.extend(opts.value.bounds);
        } else {
            if let Some(first) = entry.getter.replace(accessor) {
                let mut e = syn::Error::new(ident.span(), format!("property `{wire}` has two getters"));
                e.combine(syn::Error::new(first.span, "the first getter"));
                cx.syn_error(e);
            }
            let bounds = std::mem::take(&mut entry_opts.value.bounds);
            *entry_opts = PropertyOpts { setter: None, ..opts };
            entry_opts.value.bounds.extend(bounds);
            *entry_docs = docs;
            if let Some(r) = &entry_opts.rename {
                *wire = r.value();
            }
        }
    }
    ThingImpl { self_ty, self_ident, actions, properties }
}

/// An identifier for `name`, raw (`r#type`) when `name` is a keyword.
fn ident_for(name: &str, span: Span) -> Ident {
    match syn::parse_str::<Ident>(name) {
        Ok(_) => Ident::new(name, span),
        Err(_) => Ident::new_raw(name, span),
    }
}

/// Replaces `Self` in a type with the Thing's type: generated code outside the impl block has no `Self`.
pub(crate) struct ReplaceSelf<'a>(pub(crate) &'a Type);

impl VisitMut for ReplaceSelf<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(p) = ty
            && p.qself.is_none()
            && p.path.is_ident("Self")
        {
            *ty = self.0.clone();
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

fn with_self(mut returns: Returns, self_ty: &Type) -> Returns {
    match &mut returns {
        Returns::Unit => {}
        Returns::Value(t) => ReplaceSelf(self_ty).visit_type_mut(t),
        Returns::Result { ok, err } => {
            if let Some(t) = ok {
                ReplaceSelf(self_ty).visit_type_mut(t);
            }
            if let Some(t) = err {
                ReplaceSelf(self_ty).visit_type_mut(t);
            }
        }
    }
    returns
}

fn check_signature(cx: &Ctxt, sig: &syn::Signature) {
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

fn receiver(cx: &Ctxt, sig: &syn::Signature) -> Receiver {
    match sig.inputs.first() {
        Some(syn::FnArg::Receiver(r)) => {
            if r.colon_token.is_some() {
                cx.error_spanned_by(r, "write the receiver as `&self` or `&mut self`");
                return if matches!(&*r.ty, Type::Reference(t) if t.mutability.is_some()) {
                    Receiver::RefMut
                } else {
                    Receiver::Ref
                };
            }
            if r.reference.is_none() {
                cx.error_spanned_by(r, "`self` by value would consume the Thing; take `&self` or `&mut self`");
                return Receiver::Ref;
            }
            if r.mutability.is_some() { Receiver::RefMut } else { Receiver::Ref }
        }
        _ => {
            cx.error_spanned_by(&sig.ident, "actions and properties are methods: add `&self` or `&mut self`");
            Receiver::Ref
        }
    }
}

fn returns(cx: &Ctxt, output: &syn::ReturnType) -> Returns {
    let syn::ReturnType::Type(_, ty) = output else { return Returns::Unit };
    if is_unit(ty) {
        return Returns::Unit;
    }
    if let Type::Reference(r) = &**ty {
        cx.error_spanned_by(
            r,
            "actions and properties return owned values, which are sent to the caller (e.g. `String`, not `&str`)",
        );
    }
    // `Result<T, E>`, and aliases such as `io::Result<T>` or `anyhow::Result<T>` with the error type implied.
    if let Type::Path(p) = &**ty
        && let Some(last) = p.path.segments.last()
        && last.ident == "Result"
        && let syn::PathArguments::AngleBracketed(a) = &last.arguments
    {
        let types: Vec<&Type> =
            a.args.iter().filter_map(|g| if let syn::GenericArgument::Type(t) = g { Some(t) } else { None }).collect();
        if matches!(types.len(), 1 | 2) {
            let ok = (!is_unit(types[0])).then(|| Box::new(types[0].clone()));
            return Returns::Result { ok, err: types.get(1).map(|t| Box::new((*t).clone())) };
        }
    }
    Returns::Value(ty.clone())
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// Whether `ty` is written `Option<...>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first()? {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `ty`'s last path segment is `Bytes` (sent in frame 4).
pub(crate) fn is_bytes(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Bytes" && s.arguments.is_empty()))
}

fn params(cx: &Ctxt, sig: &syn::Signature, param_attrs: &[Vec<Attribute>]) -> Vec<Param> {
    let mut out = Vec::new();
    let typed = sig.inputs.iter().filter_map(|i| if let syn::FnArg::Typed(t) = i { Some(t) } else { None });
    for (pt, attrs) in typed.zip(param_attrs) {
        let ident = match &*pt.pat {
            syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                cx.error_spanned_by(other, "action arguments must be plain names: clients pass them by name");
                continue;
            }
        };
        if let Type::Reference(r) = &*pt.ty {
            cx.error_spanned_by(
                r,
                "action arguments must be owned values decoded from the request (e.g. `String`, not `&str`)",
            );
        }
        if matches!(&*pt.ty, Type::ImplTrait(_)) {
            cx.error_spanned_by(&pt.ty, "action arguments need concrete types, not `impl Trait`");
        }
        let mut value = ValueOpts::default();
        let mut rename = None;
        for a in attrs {
            let (v, r) = attr::param_opts(cx, a);
            value.bounds.extend(v.bounds);
            value.default = value.default.or(v.default);
            rename = rename.or(r);
        }
        let wire = rename.map(|r| r.value()).unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_owned());
        let optional = option_inner(&pt.ty).is_some();
        out.push(Param { ident, ty: (*pt.ty).clone(), optional, wire, value });
    }
    out
}
