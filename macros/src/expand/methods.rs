//! What `#[thing]` on an impl block generates: the `ThingMethods` table (getter/setter properties, actions,
//! their argument decoding and dispatch), type assertions, and the client's action methods.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::property::{self, Dispatch};
use super::{Paths, bound_assertions, bound_checks, client, opt_lit, opt_str, to_output, value_schema_fn};
use crate::attr::StateRule;
use crate::model::{Action, Mode, PropertySource, Receiver, Returns, ThingImpl, option_inner};

pub(crate) fn expand_impl(
    t: &ThingImpl,
    item: &syn::ItemImpl,
    krate: Option<syn::Path>,
    states: &[StateRule],
) -> TokenStream {
    let p = Paths::new(krate);
    let table = table_impl(&p, t);
    let allowed = allowed_fn(&p, t, states);
    let polled = polled_fn(&p, t);
    let properties = properties_fn(&p, t);
    let actions = actions_fn(&p, t);
    let read = read_fn(&p, t);
    let write = write_fn(&p, t);
    let decoders = t.actions.iter().map(|a| decoder_fn(&p, t, a));
    let invoke = invoke_fn(&p, t, Mode::Queued);
    let invoke_concurrent = invoke_fn(&p, t, Mode::Concurrent);
    let invoke_blocking = invoke_blocking_fn(&p, t);
    let assertions = assertions(&p, t);
    let client = client::impl_client(&p, t);
    quote! {
        #item
        #[doc(hidden)]
        #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
        const _: () = {
            #table
            #allowed
            #polled
            #properties
            #actions
            #read
            #write
            #(#decoders)*
            #invoke
            #invoke_concurrent
            #invoke_blocking
            #assertions
        };
        #client
    }
}

fn table_impl(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    quote! {
        #[automatically_derived]
        impl #private::ThingMethods for #self_ty {
            fn methods() -> #private::MethodTable<Self> {
                #private::MethodTable {
                    properties: __properties,
                    actions: __actions,
                    read: __read,
                    write: __write,
                    invoke: __invoke,
                    invoke_concurrent: __invoke_concurrent,
                    invoke_blocking: __invoke_blocking,
                    allowed: __allowed,
                    polled: __polled,
                }
            }
        }
    }
}

/// `states(Idle = [move_to], …)` as the table's `allowed`: per gated member (its wire name), the names of the
/// states allowing it. Each state is written as a path into the Thing's state enum, so an unknown state is the
/// compiler's "no variant" error at the user's token; a member the impl block does not have must be a
/// writable field property of the struct, which a constant checks.
fn allowed_fn(p: &Paths, t: &ThingImpl, states: &[StateRule]) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let mut members: Vec<(String, Vec<TokenStream>)> = Vec::new();
    let mut checks = TokenStream::new();
    for rule in states {
        let state = &rule.state;
        let value = quote_spanned!(state.span()=>
            #private::state_name(&<<#self_ty as #private::HasStates>::States>::#state)
        );
        for member in &rule.members {
            let name = member.unraw().to_string();
            let action = t.actions.iter().find(|a| a.method.sig.ident == *member || a.wire == name);
            let property = t.properties.iter().find(|prop| match &prop.source {
                PropertySource::Accessor(acc) => acc.name == *member || prop.wire == name,
                PropertySource::Field { .. } => false,
            });
            let wire = match (action, property) {
                (Some(a), _) => a.wire.clone(),
                (None, Some(prop)) => {
                    let writable = matches!(&prop.source, PropertySource::Accessor(acc) if acc.setter().is_some());
                    if !writable {
                        let message = format!(
                            "`{name}` is a read-only property: `states(...)` gates actions and writable properties"
                        );
                        checks.extend(quote_spanned!(member.span()=> compile_error!(#message);));
                    }
                    prop.wire.clone()
                }
                (None, None) => {
                    let message = format!(
                        "`{name}` in `states(...)` is neither an action of this impl block nor a writable property \
                         of the Thing"
                    );
                    checks.extend(quote_spanned!(member.span()=>
                        const _: () = ::core::assert!(
                            #private::name_in(<#self_ty as #private::ThingNames>::WRITABLE, #name),
                            #message
                        );
                    ));
                    name
                }
            };
            match members.iter_mut().find(|(w, _)| *w == wire) {
                Some((_, values)) => values.push(value.clone()),
                None => members.push((wire, vec![value.clone()])),
            }
        }
    }
    let entries = members.iter().map(|(wire, values)| quote!((#wire, #private::std::vec![#(#values),*])));
    quote! {
        #checks
        fn __allowed() -> #private::std::vec::Vec<(&'static str, #private::std::vec::Vec<#private::std::string::String>)> {
            #private::std::vec![#(#entries),*]
        }
    }
}

/// The getters with `poll = "…"`, for the server's poller.
fn polled_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (krate, private) = (&p.krate, &p.private);
    let specs = t.properties.iter().filter_map(|prop| {
        let (period, _) = prop.opts.poll?;
        let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let threshold = |t: &Option<(syn::Expr, proc_macro2::Span)>| match t {
            Some((e, span)) => quote_spanned!(*span=> #private::core::option::Option::Some((#e) as f64)),
            None => quote!(#private::core::option::Option::None),
        };
        let (abs, rel, wire, cfgs) =
            (threshold(&prop.opts.abs_change), threshold(&prop.opts.rel_change), &prop.wire, prop.cfgs());
        Some(quote! {
            #(#cfgs)*
            polled.push(#krate::PollSpec {
                property: #wire,
                period: #private::core::time::Duration::from_nanos(#nanos),
                abs_change: #abs,
                rel_change: #rel,
            });
        })
    });
    quote! {
        fn __polled() -> #private::std::vec::Vec<#krate::PollSpec> {
            #[allow(unused_mut)]
            let mut polled = #private::std::vec::Vec::new();
            #(#specs)*
            polled
        }
    }
}

fn properties_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (krate, private) = (&p.krate, &p.private);
    let items = t.properties.iter().filter_map(|prop| property::descriptor(p, prop));
    quote! {
        fn __properties() -> #private::std::vec::Vec<#krate::PropertyDescriptor> {
            #[allow(unused_mut)]
            let mut properties = #private::std::vec::Vec::new();
            #(#items)*
            properties
        }
    }
}

fn actions_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (krate, private) = (&p.krate, &p.private);
    let items = t.actions.iter().map(|a| {
        let (cfgs, wire) = (&a.method.cfgs, &a.wire);
        let title = opt_lit(p, &a.opts.title);
        let description = opt_str(p, a.opts.description.as_ref().map(|d| d.value()).or_else(|| a.method.docs.clone()));
        let mode = match a.mode() {
            Mode::Queued => quote!(#private::ExecutionMode::Queued),
            Mode::Concurrent => quote!(#private::ExecutionMode::Concurrent),
            Mode::Threaded => quote!(#private::ExecutionMode::Threaded),
        };
        let duration = |d: Option<std::time::Duration>| match d {
            Some(d) => {
                let nanos = d.as_nanos() as u64;
                quote!(#private::core::option::Option::Some(#private::core::time::Duration::from_nanos(#nanos)))
            }
            None => quote!(#private::core::option::Option::None),
        };
        let invocation = duration(a.opts.invocation_timeout);
        let execution = duration(a.opts.execution_timeout);
        let (safe, idempotent) = (a.opts.safe, a.opts.idempotent);
        let blocking = !a.method.is_async();
        let input = if a.params.is_empty() {
            quote!(#private::core::option::Option::None)
        } else {
            let params = a.params.iter().map(|param| {
                let (name, ty) = (&param.wire, &param.ty);
                let schema_ty = option_inner(ty).unwrap_or(ty);
                let schema = value_schema_fn(p, schema_ty, &param.value);
                let required = !param.optional && param.value.default.is_none();
                quote!(#private::Param { name: #name, schema: #schema, required: #required })
            });
            quote!(#private::core::option::Option::Some({
                fn __input(generator: &mut #private::schemars::SchemaGenerator) -> #private::schemars::Schema {
                    #private::args_schema(generator, &[#(#params),*])
                }
                __input
            }))
        };
        let output = match a.method.returns.value() {
            Some(ty) => {
                let f = value_schema_fn(p, ty, &Default::default());
                quote!(#private::core::option::Option::Some(#f))
            }
            None => quote!(#private::core::option::Option::None),
        };
        quote! {
            #(#cfgs)*
            actions.push(#krate::ActionDescriptor {
                name: #wire,
                title: #title,
                description: #description,
                mode: #mode,
                blocking: #blocking,
                invocation_timeout: #invocation,
                execution_timeout: #execution,
                safe: #safe,
                idempotent: #idempotent,
                input: #input,
                output: #output,
            });
        }
    });
    quote! {
        fn __actions() -> #private::std::vec::Vec<#krate::ActionDescriptor> {
            #[allow(unused_mut)]
            let mut actions = #private::std::vec::Vec::new();
            #(#items)*
            actions
        }
    }
}

fn read_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let d = Dispatch::table(self_ty);
    let arms = t.properties.iter().filter_map(|prop| property::read_arm(p, prop, &d));
    let Dispatch { this, out, ct, .. } = &d;
    quote! {
        #[allow(unused_variables)]
        fn __read(
            #this: &#self_ty,
            __name: &str,
            #ct: &#private::ContentType,
            #out: &mut #private::std::vec::Vec<u8>,
        ) -> #private::core::option::Option<#private::core::result::Result<(), #private::ThingError>> {
            match __name {
                #(#arms)*
                _ => #private::core::option::Option::None,
            }
        }
    }
}

fn write_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let d = Dispatch::table(self_ty);
    let arms = t.properties.iter().filter_map(|prop| property::write_arm(p, prop, &d));
    let Dispatch { this, value, .. } = &d;
    quote! {
        #[allow(unused_variables)]
        fn __write(
            #this: &mut #self_ty,
            __name: &str,
            #value: #private::ValueDeserializer<'_, '_>,
        ) -> #private::core::option::Option<#private::core::result::Result<(), #private::ThingError>> {
            match __name {
                #(#arms)*
                _ => #private::core::option::Option::None,
            }
        }
    }
}

fn decoder_ident(a: &Action) -> syn::Ident {
    format_ident!("__decode_{}", a.method.ident())
}

/// One function per action: decodes and checks its arguments.
fn decoder_fn(p: &Paths, t: &ThingImpl, a: &Action) -> TokenStream {
    let private = &p.private;
    let _ = t;
    let name = decoder_ident(a);
    let cfgs = &a.method.cfgs;
    let tys: Vec<&syn::Type> = a.params.iter().map(|x| &x.ty).collect();
    let idents: Vec<&syn::Ident> = a.params.iter().map(|x| &x.ident).collect();
    let wires: Vec<&String> = a.params.iter().map(|x| &x.wire).collect();
    let finish = a.params.iter().map(|param| {
        let (ident, wire) = (&param.ident, &param.wire);
        let take = match (&param.value.default, param.optional) {
            // Left out: the default; an explicit `null`: `None`.
            (Some(d), true) => quote!(let #ident = match #ident {
                #private::core::option::Option::None => #private::core::option::Option::Some(#d),
                #private::core::option::Option::Some(v) => v,
            };),
            (Some(d), false) => quote!(let #ident = #ident.unwrap_or_else(|| #d);),
            (None, true) => quote!(let #ident = #ident.flatten();),
            (None, false) => quote!(let #ident = #private::required(#ident, #wire)?;),
        };
        let checks = bound_checks(p, ident, &format!("argument `{wire}` of `{}`", a.wire), &param.value.bounds);
        quote!(#take #checks)
    });
    quote! {
        #(#cfgs)*
        #[allow(non_snake_case, unused_parens)]
        fn #name(__args: #private::Args<'_>) -> #private::core::result::Result<(#(#tys,)*), #private::ThingError> {
            let (#(#idents,)*) = #private::ArgSlots::<(#(#tys,)*)>::new(&[#(#wires),*]).decode(__args)?;
            #(#finish)*
            #private::core::result::Result::Ok((#(#idents,)*))
        }
    }
}

fn invoke_fn(p: &Paths, t: &ThingImpl, mode: Mode) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let ct = format_ident!("__ct");
    let arms = t.actions.iter().filter(|a| a.mode() == mode).map(|a| {
        let (cfgs, wire, ident) = (&a.method.cfgs, &a.wire, a.method.ident());
        let decoder = decoder_ident(a);
        let idents: Vec<&syn::Ident> = a.params.iter().map(|x| &x.ident).collect();
        let this = match (mode, a.method.receiver) {
            (Mode::Queued, Receiver::Ref) => quote!(&*__this),
            _ => quote!(__this),
        };
        let call = quote!(<#self_ty>::#ident(#this, #(#idents),*));
        let run = if a.method.is_async() {
            let output = to_output(p, &a.method.returns, quote!(#call.await), &ct);
            quote!(#private::Invocation::pending(async move { #output }))
        } else {
            let output = to_output(p, &a.method.returns, call, &ct);
            quote!(#private::Invocation::Done(#output))
        };
        quote! {
            #(#cfgs)*
            #wire => #private::core::option::Option::Some(match #decoder(__args) {
                #private::core::result::Result::Ok((#(#idents,)*)) => {
                    let #ct = #private::core::clone::Clone::clone(__args.content_type);
                    #run
                }
                #private::core::result::Result::Err(e) => #private::Invocation::Done(#private::core::result::Result::Err(e)),
            }),
        }
    });
    let (name, this_ty) = match mode {
        Mode::Concurrent => (format_ident!("__invoke_concurrent"), quote!(&'a #self_ty)),
        _ => (format_ident!("__invoke"), quote!(&'a mut #self_ty)),
    };
    quote! {
        #[allow(unused_variables)]
        fn #name<'a>(__this: #this_ty, __name: &str, __args: #private::Args<'_>) -> #private::core::option::Option<#private::Invocation<'a>> {
            match __name {
                #(#arms)*
                _ => #private::core::option::Option::None,
            }
        }
    }
}

fn invoke_blocking_fn(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let ct = format_ident!("__ct");
    let arms = t.actions.iter().filter(|a| a.mode() == Mode::Threaded).map(|a| {
        let (cfgs, wire, ident) = (&a.method.cfgs, &a.wire, a.method.ident());
        let decoder = decoder_ident(a);
        let idents: Vec<&syn::Ident> = a.params.iter().map(|x| &x.ident).collect();
        let output = to_output(p, &a.method.returns, quote!(<#self_ty>::#ident(__this, #(#idents),*)), &ct);
        quote! {
            #(#cfgs)*
            #wire => #private::core::option::Option::Some(match #decoder(__args) {
                #private::core::result::Result::Ok((#(#idents,)*)) => {
                    let #ct = #private::core::clone::Clone::clone(__args.content_type);
                    #output
                }
                #private::core::result::Result::Err(e) => #private::core::result::Result::Err(e),
            }),
        }
    });
    quote! {
        #[allow(unused_variables)]
        fn __invoke_blocking(__this: &#self_ty, __name: &str, __args: #private::Args<'_>) -> #private::core::option::Option<#private::core::result::Result<#private::Output, #private::ThingError>> {
            match __name {
                #(#arms)*
                _ => #private::core::option::Option::None,
            }
        }
    }
}

fn assertions(p: &Paths, t: &ThingImpl) -> TokenStream {
    let private = &p.private;
    let mut out = TokenStream::new();
    for a in &t.actions {
        let cfgs = &a.method.cfgs;
        let mut checks = TokenStream::new();
        for param in &a.params {
            let ty = &param.ty;
            let schema_ty = option_inner(ty).unwrap_or(ty);
            checks.extend(quote_spanned!(ty.span()=> #private::assert_argument::<#ty>();));
            checks.extend(quote_spanned!(schema_ty.span()=> #private::assert_schema::<#schema_ty>();));
            checks.extend(bound_assertions(p, ty, &param.value.bounds));
        }
        if let Some(ty) = a.method.returns.value() {
            checks.extend(quote_spanned!(ty.span()=> #private::assert_returnable::<#ty>(); #private::assert_client_decodable::<#ty>();));
        }
        if let Returns::Result { err: Some(err), .. } = &a.method.returns {
            checks.extend(quote_spanned!(err.span()=> #private::assert_error::<#err>();));
        }
        out.extend(quote!(#(#cfgs)* let _ = || { #checks };));
    }
    for prop in &t.properties {
        out.extend(property::assertions(p, prop));
    }
    let self_ty = &t.self_ty;
    let is_thing = quote_spanned!(self_ty.span()=> #private::assert_thing_struct::<#self_ty>(););
    let clashes = name_clash_checks(p, t);
    quote! {
        #[allow(dead_code, clippy::all)]
        fn __assertions() {
            #is_thing
            #out
        }
        #clashes
    }
}

/// Compile-time checks that the impl block's names do not clash with the struct's (the two expansions
/// cannot see each other, so the struct records its names in `ThingNames` and these constants compare).
fn name_clash_checks(p: &Paths, t: &ThingImpl) -> TokenStream {
    let (private, self_ty) = (&p.private, &t.self_ty);
    let mut out = TokenStream::new();
    for prop in &t.properties {
        let Some(g) = prop.accessors().and_then(|a| a.getter()) else { continue };
        let (wire, cfgs) = (&prop.wire, &g.cfgs);
        let message = format!(
            "property `{wire}` is defined twice: by a field of the struct and by this getter; rename one of them"
        );
        out.extend(quote_spanned!(g.ident().span()=> #(#cfgs)* const _: () = ::core::assert!(!#private::name_in(<#self_ty as #private::ThingNames>::PROPERTIES, #wire), #message);));
    }
    for m in t.client_methods() {
        let (name, span, cfgs) = (m.name(), m.span(), m.cfgs);
        let message = format!(
            "the generated client would have two methods named `{name}`: one for a member of the struct and one for this member; rename one of them"
        );
        out.extend(quote_spanned!(span=> #(#cfgs)* const _: () = ::core::assert!(!#private::name_in(<#self_ty as #private::ThingNames>::CLIENT_METHODS, #name), #message);));
    }
    out
}
