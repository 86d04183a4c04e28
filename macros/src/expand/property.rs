//! What is generated for one property, a field of the struct or a getter (and setter) of the impl block
//! alike: its descriptor entry, its read and write arms, its type assertions. One generator per item; only
//! how the value is reached (`self.x` or `<T>::x(self)`) depends on the property's source.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::{Paths, bound_assertions, bound_checks, opt_lit, opt_str, user_error, value_schema_fn};
use crate::model::{Property, PropertySource, Returns};

/// The dispatch function read and write arms go into, and the names it gives its inputs: the struct's
/// `Thing` impl answers its field properties directly; the impl block's table answers `Some(…)` for its
/// accessor properties and `None` for names it does not know.
pub(crate) struct Dispatch {
    /// The Thing: `self`, or the table function's `__this`.
    pub(crate) this: TokenStream,
    /// The Thing's type, for calls to getters and setters.
    self_ty: TokenStream,
    /// The read function's output buffer and content type.
    pub(crate) out: Ident,
    pub(crate) ct: Ident,
    /// The write function's value.
    pub(crate) value: Ident,
    /// Whether an arm's answer is wrapped in `Some`.
    optional: bool,
}

impl Dispatch {
    /// The struct's `Thing::read_property` and `Thing::write_property`.
    pub(crate) fn thing() -> Self {
        Self {
            this: quote!(self),
            self_ty: quote!(Self),
            out: format_ident!("out"),
            ct: format_ident!("ct"),
            value: format_ident!("value"),
            optional: false,
        }
    }

    /// The impl block's `__read` and `__write`.
    pub(crate) fn table(self_ty: &Type) -> Self {
        Self {
            this: quote!(__this),
            self_ty: quote!(#self_ty),
            out: format_ident!("__out"),
            ct: format_ident!("__ct"),
            value: format_ident!("__value_in"),
            optional: true,
        }
    }

    /// `#wire => answer,` for an answer that is an expression.
    fn arm(&self, p: &Paths, prop: &Property, cfgs: &[syn::Attribute], answer: TokenStream) -> TokenStream {
        let (private, wire) = (&p.private, &prop.wire);
        if self.optional {
            quote!(#(#cfgs)* #wire => #private::core::option::Option::Some(#answer),)
        } else {
            quote!(#(#cfgs)* #wire => #answer,)
        }
    }

    /// `#wire => { statements }` for an answer computed by statements that may return early with `?`.
    fn fallible_arm(&self, p: &Paths, prop: &Property, cfgs: &[syn::Attribute], body: TokenStream) -> TokenStream {
        let (private, wire) = (&p.private, &prop.wire);
        if self.optional {
            let closure = quote!((|| -> #private::core::result::Result<(), #private::ThingError> {
                #body
            })());
            self.arm(p, prop, cfgs, closure)
        } else {
            quote! {
                #(#cfgs)*
                #wire => {
                    #body
                }
            }
        }
    }
}

/// `properties.push(PropertyDescriptor { … });`
pub(crate) fn descriptor(p: &Paths, prop: &Property) -> Option<TokenStream> {
    let krate = &p.krate;
    let ty = prop.ty()?;
    let (cfgs, wire) = (prop.cfgs(), &prop.wire);
    let title = opt_lit(p, &prop.opts.title);
    let description = opt_str(p, prop.opts.description.as_ref().map(|d| d.value()).or_else(|| prop.docs.clone()));
    let unit = opt_lit(p, &prop.opts.unit);
    let read_only = match &prop.source {
        PropertySource::Field { .. } => {
            let read_only = prop.opts.read_only.is_some();
            quote!(#read_only)
        }
        PropertySource::Accessor(a) => match a.setter() {
            None => quote!(true),
            // Writable only where the setter is compiled in.
            Some(s) => {
                let setter_cfgs = &s.method.cfgs;
                quote!({
                    #[allow(unused_mut, unused_assignments)]
                    let mut read_only = true;
                    #(#setter_cfgs)*
                    { read_only = false; }
                    read_only
                })
            }
        },
    };
    let observable = prop.opts.observable;
    let persist = format_ident!("{}", prop.opts.persist.map_or("Off", |p| p.mode.variant()));
    let computed = prop.computed();
    let schema = value_schema_fn(p, ty, &prop.opts.value);
    Some(quote! {
        #(#cfgs)*
        properties.push(#krate::PropertyDescriptor {
            name: #wire,
            title: #title,
            description: #description,
            read_only: #read_only,
            observable: #observable,
            computed: #computed,
            persist: #krate::Persist::#persist,
            unit: #unit,
            schema: #schema,
        });
    })
}

/// The read arm: encodes the value into the reply.
pub(crate) fn read_arm(p: &Paths, prop: &Property, d: &Dispatch) -> Option<TokenStream> {
    let (private, this, out, ct) = (&p.private, &d.this, &d.out, &d.ct);
    let encode = |value: TokenStream| quote!(#private::encode_property(#out, &#value, #ct));
    let answer = match &prop.source {
        PropertySource::Field { member, .. } => encode(quote!(#this.#member)),
        PropertySource::Accessor(a) => {
            let g = a.getter()?;
            let (self_ty, ident) = (&d.self_ty, g.ident());
            let call = quote!(<#self_ty>::#ident(#this));
            match &g.returns {
                Returns::Result { .. } => {
                    let on_ok = encode(quote!(__value));
                    let err = user_error(p, quote!(__error));
                    quote!(match #call {
                        #private::core::result::Result::Ok(__value) => #on_ok,
                        #private::core::result::Result::Err(__error) => #private::core::result::Result::Err(#err),
                    })
                }
                _ => encode(call),
            }
        }
    };
    Some(d.arm(p, prop, prop.cfgs(), answer))
}

/// The write arm: decodes the value, checks its bounds and stores it. A read-only field answers why; a
/// getter without setter has no arm (the name falls through to the table's `None`).
pub(crate) fn write_arm(p: &Paths, prop: &Property, d: &Dispatch) -> Option<TokenStream> {
    let (private, this, wire) = (&p.private, &d.this, &prop.wire);
    let value = format_ident!("__value");
    let (ty, store) = match &prop.source {
        PropertySource::Field { member, ty, cfgs, .. } => {
            if prop.opts.read_only.is_some() {
                let message = format!("property `{wire}` is read-only");
                let answer =
                    quote!(#private::core::result::Result::Err(#private::ThingError::attribute_error(#message)));
                return Some(d.arm(p, prop, cfgs, answer));
            }
            (ty, quote!(#this.#member = #value; #private::core::result::Result::Ok(())))
        }
        PropertySource::Accessor(a) => {
            let s = a.setter()?;
            let (self_ty, ident) = (&d.self_ty, s.method.ident());
            let call = quote!(<#self_ty>::#ident(#this, #value));
            let store = match &s.method.returns {
                Returns::Result { .. } => {
                    let err = user_error(p, quote!(__error));
                    quote!(match #call {
                        #private::core::result::Result::Ok(_) => #private::core::result::Result::Ok(()),
                        #private::core::result::Result::Err(__error) => #private::core::result::Result::Err(#err),
                    })
                }
                _ => quote!({ #call; #private::core::result::Result::Ok(()) }),
            };
            (s.value_ty.as_ref()?, store)
        }
    };
    let input = &d.value;
    let checks = bound_checks(p, &value, &format!("property `{wire}`"), &prop.opts.value.bounds);
    let body = quote! {
        let #value: #ty = #private::decode_property(#input, #wire)?;
        #checks
        #store
    };
    Some(d.fallible_arm(p, prop, prop.write_cfgs()?, body))
}

/// Compile-time assertions on the property's type, spanned on it so that errors point there.
pub(crate) fn assertions(p: &Paths, prop: &Property) -> Option<TokenStream> {
    let private = &p.private;
    let ty = prop.ty()?;
    let mut checks =
        quote_spanned!(ty.span()=> #private::assert_readable::<#ty>(); #private::assert_client_decodable::<#ty>(););
    // Inside the property's own `#[cfg]`s, a write needs the setter's too.
    let write_cfgs = match &prop.source {
        PropertySource::Field { .. } => prop.opts.read_only.is_none().then_some(&[][..]),
        PropertySource::Accessor(a) => a.setter().map(|s| s.method.cfgs.as_slice()),
    };
    if let Some(write_cfgs) = write_cfgs {
        checks.extend(quote_spanned!(ty.span()=> #(#write_cfgs)* #private::assert_writable::<#ty>();));
    }
    checks.extend(bound_assertions(p, ty, &prop.opts.value.bounds));
    let cfgs = prop.cfgs();
    Some(quote!(#(#cfgs)* let _ = || { #checks };))
}

/// The restore arm of a `read_only` field that is restored at start (`persist` or `persist = "init"`):
/// clients cannot write it, the stored value may. Other properties are restored through their write arm.
pub(crate) fn restore_arm(p: &Paths, prop: &Property) -> Option<TokenStream> {
    let private = &p.private;
    let PropertySource::Field { member, ty, cfgs, .. } = &prop.source else { return None };
    let loads = prop.opts.persist.is_some_and(|p| p.mode != crate::attr::PersistMode::Commit);
    if prop.opts.read_only.is_none() || !loads {
        return None;
    }
    let wire = &prop.wire;
    let value = format_ident!("__value");
    let checks = bound_checks(p, &value, &format!("property `{wire}`"), &prop.opts.value.bounds);
    Some(quote! {
        #(#cfgs)*
        #wire => {
            let #value: #ty = #private::decode_property(value, #wire)?;
            #checks
            self.#member = #value;
            #private::core::result::Result::Ok(())
        }
    })
}
