//! The plain-data model of a Thing, read from the struct and from the impl block. It keeps the original
//! syntax (idents, types, attributes, signatures) for spans; it holds no generated tokens. One model feeds
//! the checks, the server dispatch, the descriptors and the client.
//!
//! Reading reports only what keeps an item from being read: attributes that do not parse, and an impl
//! block whose type has no name. Whether what was read makes a valid Thing is for `check.rs` to say.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Ident, LitStr, Type};

use crate::attr::{self, ActionOpts, EventOpts, PropertyOpts, ThingAttrs, ValueOpts};
use crate::ctxt::Ctxt;
use crate::symbol::{ACTION, EVENT, ID, PARAM, PROPERTY, STATE_MACHINE, Symbol};

/// The struct side.
pub(crate) struct ThingStruct {
    pub(crate) ident: Ident,
    pub(crate) vis: syn::Visibility,
    pub(crate) attrs: ThingAttrs,
    pub(crate) docs: Option<String>,
    /// As written; a Thing has none.
    pub(crate) generics: syn::Generics,
    /// The fields of a tuple struct, which cannot be a Thing (its members are named after its fields).
    pub(crate) tuple_fields: Option<syn::FieldsUnnamed>,
    pub(crate) id: IdSource,
    /// Every `#[id]` written, in order.
    pub(crate) id_marks: Vec<Attribute>,
    pub(crate) properties: Vec<Property>,
    pub(crate) events: Vec<FieldEvent>,
    pub(crate) misplaced: Vec<Misplaced>,
    /// The `#[state_machine]` field (served as the read-only observable property `state`), and any further
    /// such fields (refused).
    pub(crate) state_machines: Vec<(Ident, Type, Attribute)>,
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
    /// In the order written; more than one (under different `#[cfg]`s, say) is refused, and the last counts.
    pub(crate) getters: Vec<Method>,
    pub(crate) setters: Vec<Setter>,
}

impl Accessors {
    pub(crate) fn getter(&self) -> Option<&Method> {
        self.getters.last()
    }

    pub(crate) fn setter(&self) -> Option<&Setter> {
        self.setters.last()
    }
}

/// A `#[property(setter)]` method.
pub(crate) struct Setter {
    pub(crate) method: Method,
    /// The type of the value it takes (its first argument's, `Self` replaced).
    pub(crate) value_ty: Option<Type>,
}

impl Property {
    /// The type of the value: the field's, or what the getter returns (`None` without a getter, which the
    /// checks refuse).
    pub(crate) fn ty(&self) -> Option<&Type> {
        match &self.source {
            PropertySource::Field { ty, .. } => Some(ty),
            PropertySource::Accessor(a) => a.getter()?.returns.value(),
        }
    }

    /// The `#[cfg]`s repeated on everything generated for the property (the field's, or the getter's).
    pub(crate) fn cfgs(&self) -> &[Attribute] {
        match &self.source {
            PropertySource::Field { cfgs, .. } => cfgs,
            PropertySource::Accessor(a) => a.getter().map_or(&[], |g| &g.cfgs),
        }
    }

    /// The doc attributes forwarded to the client's getter.
    pub(crate) fn doc_attrs(&self) -> &[Attribute] {
        match &self.source {
            PropertySource::Field { doc_attrs, .. } => doc_attrs,
            PropertySource::Accessor(a) => a.getter().map_or(&[], |g| &g.doc_attrs),
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
            PropertySource::Accessor(a) => a.setter().map(|s| s.method.cfgs.as_slice()),
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
    /// The `T` of `Event<T>`; `None` when the field's type is not written so.
    pub(crate) data: Option<Type>,
    pub(crate) ty: Type,
    pub(crate) wire: String,
    pub(crate) opts: EventOpts,
    pub(crate) docs: Option<String>,
    pub(crate) doc_attrs: Vec<Attribute>,
    pub(crate) cfgs: Vec<Attribute>,
}

/// One of our attributes where it does not apply; the member it is on is read as if it were not there.
pub(crate) enum Misplaced {
    /// A second `#[property]` or `#[event]` on a field.
    SecondOnField(Attribute),
    /// A second `#[action]` or `#[property]` on a method.
    SecondOnMethod(Attribute),
    /// `#[event]` on a method.
    EventOnMethod(Attribute),
    /// `#[param]` on an argument of a method that is not an action.
    ParamOutsideAction(Attribute),
}

/// Whether `a` is one of our attributes, written bare (`#[action]`) or with a path (`#[thingwire::action]`).
fn is_ours(a: &Attribute, names: &[Symbol]) -> bool {
    a.path().segments.last().is_some_and(|s| names.iter().any(|n| s.ident == *n))
}

/// Reads the struct and strips our attributes from it (the stripped struct is emitted as it is).
pub(crate) fn read_struct(cx: &Ctxt, attrs: ThingAttrs, item: &mut syn::ItemStruct) -> ThingStruct {
    let mut tuple_fields = None;
    let fields = match &mut item.fields {
        syn::Fields::Named(f) => Some(&mut f.named),
        syn::Fields::Unnamed(f) => {
            tuple_fields = Some(f.clone());
            None
        }
        syn::Fields::Unit => None,
    };
    let mut properties = Vec::new();
    let mut events = Vec::new();
    let mut misplaced = Vec::new();
    let mut id_field = None;
    let mut id_marks = Vec::new();
    let mut marked_id = None;
    let mut state_machines = Vec::new();
    for field in fields.into_iter().flatten() {
        let Some(member) = field.ident.clone() else { continue };
        const OURS: &[Symbol] = &[PROPERTY, EVENT, ID, STATE_MACHINE];
        let ours: Vec<Attribute> = field.attrs.iter().filter(|a| is_ours(a, OURS)).cloned().collect();
        field.attrs.retain(|a| !is_ours(a, OURS));
        let docs = attr::docs(&field.attrs);
        let doc_attrs = attr::doc_attrs(&field.attrs);
        let cfgs = attr::cfgs(&field.attrs);
        if member == "id" {
            id_field = Some((member.clone(), Box::new(field.ty.clone())));
        }
        let (marks, kinds): (Vec<Attribute>, Vec<Attribute>) = ours.into_iter().partition(|a| is_ours(a, &[ID]));
        if !marks.is_empty() {
            marked_id = Some((member.clone(), Box::new(field.ty.clone())));
        }
        id_marks.extend(marks);
        let mut kinds = kinds.into_iter();
        let Some(kind) = kinds.next() else { continue };
        misplaced.extend(kinds.map(Misplaced::SecondOnField));
        let wire =
            |rename: &Option<LitStr>| rename.as_ref().map(LitStr::value).unwrap_or_else(|| member.unraw().to_string());
        if is_ours(&kind, &[STATE_MACHINE]) {
            if !matches!(kind.meta, syn::Meta::Path(_)) {
                cx.error_spanned_by(&kind, "`#[state_machine]` takes no options: the field is the property `state`");
            }
            // hololinked serves its state machine as the read-only observable property `state`.
            let opts = PropertyOpts { read_only: Some(kind.span()), observable: true, ..PropertyOpts::default() };
            state_machines.push((member.clone(), field.ty.clone(), kind.clone()));
            let source = PropertySource::Field { member, ty: field.ty.clone(), doc_attrs, cfgs };
            let docs = docs.or_else(|| Some("The Thing's state".to_owned()));
            properties.push(Property { wire: "state".to_owned(), docs, opts, source });
        } else if is_ours(&kind, &[PROPERTY]) {
            let opts = attr::property_opts(cx, &kind, false);
            let wire = wire(&opts.rename);
            let source = PropertySource::Field { member, ty: field.ty.clone(), doc_attrs, cfgs };
            properties.push(Property { wire, docs, opts, source });
        } else {
            let opts = attr::event_opts(cx, &kind);
            let wire = wire(&opts.rename);
            let data = event_data(&field.ty);
            events.push(FieldEvent { member, data, ty: field.ty.clone(), wire, opts, docs, doc_attrs, cfgs });
        }
    }
    let id = match (&attrs.id, marked_id.or(id_field)) {
        (Some(fixed), _) => IdSource::Fixed(fixed.clone()),
        (None, Some((field, ty))) => IdSource::Field(field, ty),
        (None, None) => IdSource::Missing,
    };
    ThingStruct {
        ident: item.ident.clone(),
        vis: item.vis.clone(),
        docs: attr::docs(&item.attrs),
        attrs,
        generics: item.generics.clone(),
        tuple_fields,
        id,
        id_marks,
        properties,
        events,
        misplaced,
        state_machines,
    }
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
    /// `Trait` of `impl Trait for Thing`, which is refused.
    pub(crate) trait_path: Option<syn::Path>,
    /// As written; a Thing's impl block has none.
    pub(crate) generics: syn::Generics,
    pub(crate) actions: Vec<Action>,
    pub(crate) properties: Vec<Property>,
    /// `#[property]` methods whose attribute did not parse (already reported): whether they are getters or
    /// setters would be a guess, so only the rules for every method apply to them.
    pub(crate) unread: Vec<Method>,
    /// `#[property(setter)]` methods not named `set_<property>`: they belong to no property.
    pub(crate) misnamed_setters: Vec<Method>,
    pub(crate) misplaced: Vec<Misplaced>,
}

impl ThingImpl {
    /// Every `#[action]` and `#[property]` method.
    pub(crate) fn methods(&self) -> impl Iterator<Item = &Method> {
        self.actions.iter().map(|a| &a.method).chain(self.accessor_methods())
    }

    /// Every `#[property]` method, whether or not it made it into a property.
    pub(crate) fn accessor_methods(&self) -> impl Iterator<Item = &Method> {
        let accessors = self.properties.iter().filter_map(Property::accessors);
        accessors
            .flat_map(|a| a.getters.iter().chain(a.setters.iter().map(|s| &s.method)))
            .chain(&self.unread)
            .chain(&self.misnamed_setters)
    }
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

/// An `#[action]` or `#[property]` method.
pub(crate) struct Method {
    /// The signature as written (our attributes stripped): the rules about it read it, and point into it.
    pub(crate) sig: syn::Signature,
    /// `&self` or `&mut self`, as near as the signature comes (the checks refuse anything else).
    pub(crate) receiver: Receiver,
    /// `Self` replaced by the Thing's type.
    pub(crate) returns: Returns,
    pub(crate) docs: Option<String>,
    pub(crate) doc_attrs: Vec<Attribute>,
    pub(crate) cfgs: Vec<Attribute>,
}

impl Method {
    pub(crate) fn ident(&self) -> &Ident {
        &self.sig.ident
    }

    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    /// The arguments besides the receiver.
    pub(crate) fn args(&self) -> impl Iterator<Item = &syn::PatType> {
        self.sig.inputs.iter().filter_map(|i| if let syn::FnArg::Typed(t) = i { Some(t) } else { None })
    }

    /// Where errors about the receiver point: the receiver, or the name when there is none.
    pub(crate) fn receiver_span(&self) -> Span {
        self.sig.inputs.first().map(Spanned::span).unwrap_or_else(|| self.ident().span())
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
    pub(crate) method: Method,
    pub(crate) wire: String,
    /// The arguments with plain names (the checks refuse the others), `Self` replaced.
    pub(crate) params: Vec<Param>,
    pub(crate) opts: ActionOpts,
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

/// Reads the impl block and strips our attributes from it.
pub(crate) fn read_impl(cx: &Ctxt, item: &mut syn::ItemImpl) -> ThingImpl {
    let self_ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    // Without a type name there is no Thing to read the block for.
    let self_ident = self_ident.unwrap_or_else(|| {
        cx.error_spanned_by(&item.self_ty, "`#[thing]` expects `impl TypeName { ... }`");
        Ident::new("__Unknown", Span::call_site())
    });
    let self_ty = (*item.self_ty).clone();
    let mut out = ThingImpl {
        self_ident,
        trait_path: item.trait_.as_ref().map(|(_, path, _)| path.clone()),
        generics: item.generics.clone(),
        actions: Vec::new(),
        properties: Vec::new(),
        unread: Vec::new(),
        misnamed_setters: Vec::new(),
        misplaced: Vec::new(),
        self_ty,
    };
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
        let mut ours = ours.into_iter();
        let Some(kind) = ours.next() else {
            out.misplaced.extend(param_attrs.into_iter().flatten().map(Misplaced::ParamOutsideAction));
            continue;
        };
        out.misplaced.extend(ours.map(Misplaced::SecondOnMethod));
        if is_ours(&kind, &[EVENT]) {
            out.misplaced.push(Misplaced::EventOnMethod(kind));
            continue;
        }
        let read = Method {
            sig: method.sig.clone(),
            receiver: read_receiver(&method.sig),
            returns: with_self(read_returns(&method.sig.output), &out.self_ty),
            docs: attr::docs(&method.attrs),
            doc_attrs: attr::doc_attrs(&method.attrs),
            cfgs: attr::cfgs(&method.attrs),
        };
        if is_ours(&kind, &[ACTION]) {
            let opts = attr::action_opts(cx, &kind);
            let wire = opts.rename.as_ref().map(LitStr::value).unwrap_or_else(|| read.ident().unraw().to_string());
            let mut params = read_params(cx, &read.sig, &param_attrs);
            for p in &mut params {
                ReplaceSelf(&out.self_ty).visit_type_mut(&mut p.ty);
            }
            out.actions.push(Action { method: read, wire, params, opts });
        } else {
            out.misplaced.extend(param_attrs.into_iter().flatten().map(Misplaced::ParamOutsideAction));
            read_accessor(cx, &mut out, &kind, read);
        }
    }
    out
}

/// Adds a getter or setter to its property (made on the first of its methods).
fn read_accessor(cx: &Ctxt, t: &mut ThingImpl, attr: &Attribute, method: Method) {
    let errors_before = cx.error_count();
    let opts = attr::property_opts(cx, attr, true);
    if cx.error_count() > errors_before {
        t.unread.push(method);
        return;
    }
    let is_setter = opts.setter.is_some();
    let Some(base) = property_name(method.ident(), is_setter) else {
        t.misnamed_setters.push(method);
        return;
    };
    let value_ty = is_setter.then(|| method.args().next()).flatten().map(|arg| {
        let mut ty = (*arg.ty).clone();
        ReplaceSelf(&t.self_ty).visit_type_mut(&mut ty);
        ty
    });
    let index = match t.properties.iter().position(|p| p.accessors().is_some_and(|a| a.name.unraw() == base)) {
        Some(i) => i,
        None => {
            let name = ident_for(&base, method.ident().span());
            let source = PropertySource::Accessor(Accessors { name, getters: Vec::new(), setters: Vec::new() });
            t.properties.push(Property { wire: base.clone(), docs: None, opts: PropertyOpts::default(), source });
            t.properties.len() - 1
        }
    };
    let Property { wire, docs, opts: entry_opts, source: PropertySource::Accessor(entry) } = &mut t.properties[index]
    else {
        return;
    };
    if is_setter {
        entry.setters.push(Setter { method, value_ty });
        // Bounds given on the setter count too, and so does `persist`.
        entry_opts.value.bounds.extend(opts.value.bounds);
        entry_opts.persist = entry_opts.persist.or(opts.persist);
    } else {
        *docs = method.docs.clone();
        entry.getters.push(method);
        let bounds = std::mem::take(&mut entry_opts.value.bounds);
        let persist = entry_opts.persist.take();
        *entry_opts = PropertyOpts { setter: None, ..opts };
        entry_opts.value.bounds.extend(bounds);
        entry_opts.persist = entry_opts.persist.or(persist);
        if let Some(r) = &entry_opts.rename {
            *wire = r.value();
        }
    }
}

/// The property a getter or setter belongs to: a getter's name, or a setter's after `set_` (`None` for a
/// setter named otherwise).
pub(crate) fn property_name(ident: &Ident, is_setter: bool) -> Option<String> {
    let name = ident.unraw().to_string();
    if !is_setter {
        return Some(name);
    }
    name.strip_prefix("set_").filter(|b| !b.is_empty()).map(str::to_owned)
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

/// `&self` or `&mut self`, as near as the signature comes: `self: &mut Self` counts as `&mut self`, anything
/// else as `&self` (the checks say what is wrong with it).
fn read_receiver(sig: &syn::Signature) -> Receiver {
    let mutable = match sig.inputs.first() {
        Some(syn::FnArg::Receiver(r)) if r.colon_token.is_some() => {
            matches!(&*r.ty, Type::Reference(t) if t.mutability.is_some())
        }
        Some(syn::FnArg::Receiver(r)) => r.reference.is_some() && r.mutability.is_some(),
        _ => false,
    };
    if mutable { Receiver::RefMut } else { Receiver::Ref }
}

fn read_returns(output: &syn::ReturnType) -> Returns {
    let syn::ReturnType::Type(_, ty) = output else { return Returns::Unit };
    if is_unit(ty) {
        return Returns::Unit;
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

/// The name of an argument written as a plain name (`value`, `mut value`), which is what an action's
/// argument must be: clients pass arguments by name.
pub(crate) fn arg_ident(pat: &syn::Pat) -> Option<&Ident> {
    match pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
        _ => None,
    }
}

/// The action's arguments that have plain names, with their `#[param]` options.
fn read_params(cx: &Ctxt, sig: &syn::Signature, param_attrs: &[Vec<Attribute>]) -> Vec<Param> {
    let mut out = Vec::new();
    let typed = sig.inputs.iter().filter_map(|i| if let syn::FnArg::Typed(t) = i { Some(t) } else { None });
    for (pt, attrs) in typed.zip(param_attrs) {
        let Some(ident) = arg_ident(&pt.pat).cloned() else { continue };
        let mut value = ValueOpts::default();
        let mut rename = None;
        for a in attrs {
            let (v, r) = attr::param_opts(cx, a);
            value.bounds.extend(v.bounds);
            value.default = value.default.or(v.default);
            rename = rename.or(r);
        }
        let wire = rename.map(|r| r.value()).unwrap_or_else(|| ident.unraw().to_string());
        let optional = option_inner(&pt.ty).is_some();
        out.push(Param { ident, ty: (*pt.ty).clone(), optional, wire, value });
    }
    out
}
