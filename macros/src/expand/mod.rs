//! Code generation, one function per generated item. Generated code names only `<crate>::__private::…`
//! and the runtime's public traits, with absolute paths.

mod client;
mod methods;
mod property;
mod structure;

pub(crate) use methods::expand_impl;
pub(crate) use structure::expand_struct;

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Type};

use crate::attr::{BoundAttr, ValueOpts};
use crate::model::{Returns, is_bytes};

/// Paths used by generated code.
pub(crate) struct Paths {
    /// The runtime crate (`::thingwire` unless renamed).
    pub(crate) krate: syn::Path,
    /// `<crate>::__private`.
    pub(crate) private: TokenStream,
}

impl Paths {
    pub(crate) fn new(krate: Option<syn::Path>) -> Self {
        let krate = krate.unwrap_or_else(|| syn::parse_quote!(::thingwire));
        let private = quote!(#krate::__private);
        Self { krate, private }
    }
}

/// The hidden alias through which the impl block's expansion reaches the struct's client type.
pub(crate) fn client_alias(thing: &Ident) -> Ident {
    format_ident!("__ThingwireClientOf{}", thing)
}

/// `Some("text")` / `None` tokens.
pub(crate) fn opt_str(p: &Paths, value: Option<String>) -> TokenStream {
    let private = &p.private;
    match value {
        Some(v) => quote!(#private::core::option::Option::Some(#v)),
        None => quote!(#private::core::option::Option::None),
    }
}

pub(crate) fn opt_lit(p: &Paths, value: &Option<LitStr>) -> TokenStream {
    opt_str(p, value.as_ref().map(LitStr::value))
}

/// `&[Bound::Minimum((expr) as f64), …]`.
pub(crate) fn bounds(p: &Paths, bounds: &[BoundAttr]) -> TokenStream {
    let private = &p.private;
    let items = bounds.iter().map(|b| {
        let variant = format_ident!("{}", b.kind.variant());
        let value = &b.value;
        if b.kind.is_numeric() {
            quote_spanned!(b.span=> #private::Bound::#variant(#private::BoundNumber::to_f64(#value)))
        } else {
            quote_spanned!(b.span=> #private::Bound::#variant(#private::BoundLength::to_u64(#value)))
        }
    });
    quote!(&[#(#items),*])
}

/// The schema of a value of type `ty` with its bounds and default.
pub(crate) fn value_schema_fn(p: &Paths, ty: &Type, value: &ValueOpts) -> TokenStream {
    let private = &p.private;
    let b = bounds(p, &value.bounds);
    let default = match &value.default {
        Some(d) => quote!(#private::default_value::<#ty>(#d)),
        None => quote!(#private::core::option::Option::None),
    };
    quote!({
        fn __schema(generator: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
            #private::value_schema::<#ty>(generator, #b, #default)
        }
        __schema
    })
}

/// Statements that check `value` (a variable) against the bounds; `what` names it in the error.
pub(crate) fn bound_checks(p: &Paths, value: &Ident, what: &str, bounds_in: &[BoundAttr]) -> TokenStream {
    let private = &p.private;
    let numeric: Vec<BoundAttr> = bounds_in.iter().filter(|b| b.kind.is_numeric()).cloned().collect();
    let length: Vec<BoundAttr> = bounds_in.iter().filter(|b| !b.kind.is_numeric()).cloned().collect();
    let mut out = TokenStream::new();
    if !numeric.is_empty() {
        let b = bounds(p, &numeric);
        out.extend(quote!(#private::check_numeric(#what, &#value, #b)?;));
    }
    if !length.is_empty() {
        let b = bounds(p, &length);
        out.extend(quote!(#private::check_length(#what, &#value, #b)?;));
    }
    out
}

/// Compile-time assertions, spanned on the user's type so errors point there.
pub(crate) fn bound_assertions(p: &Paths, ty: &Type, bounds_in: &[BoundAttr]) -> TokenStream {
    let private = &p.private;
    let mut out = TokenStream::new();
    if bounds_in.iter().any(|b| b.kind.is_numeric()) {
        out.extend(quote_spanned!(ty.span()=> #private::assert_numeric::<#ty>();));
    }
    if bounds_in.iter().any(|b| !b.kind.is_numeric()) {
        out.extend(quote_spanned!(ty.span()=> #private::assert_has_length::<#ty>();));
    }
    out
}

/// Turns the value of `call` (an action's or getter's return) into `Result<Output, ThingError>`.
pub(crate) fn to_output(p: &Paths, returns: &Returns, call: TokenStream, ct: &Ident) -> TokenStream {
    let private = &p.private;
    let ok = |ty: Option<&Type>, v: TokenStream| match ty {
        None => quote!({ let () = #v; #private::output_unit(&#ct) }),
        Some(t) if is_bytes(t) => quote!(#private::output_bytes(#v, &#ct)),
        Some(_) => quote!(#private::output_value(&#v, &#ct)),
    };
    match returns {
        Returns::Unit => ok(None, call),
        Returns::Value(t) => ok(Some(t), call),
        Returns::Result { ok: t, .. } => {
            let on_ok = ok(t.as_deref(), quote!(__value));
            let err = user_error(p, quote!(__error));
            quote!(match #call {
                #private::core::result::Result::Ok(__value) => #on_ok,
                #private::core::result::Result::Err(__error) => #private::core::result::Result::Err(#err),
            })
        }
    }
}

/// A user error value as a `ThingError`.
pub(crate) fn user_error(p: &Paths, e: TokenStream) -> TokenStream {
    let private = &p.private;
    quote!({
        #[allow(unused_imports)]
        use #private::{ViaDisplay as _, ViaThingError as _};
        (&&#private::ErrorWrap(#e)).into_thing_error()
    })
}
