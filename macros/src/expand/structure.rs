//! What `#[thing]` on a struct generates: the `Thing` and `DescribeThing` impls (field properties, events,
//! the id, dispatch falling through to the impl block's table), type assertions, and the client type.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::property::{self, Dispatch};
use super::{Paths, client, opt_lit, opt_str, value_schema_fn};
use crate::model::{FieldEvent, IdSource, ThingStruct};

pub(crate) fn expand_struct(s: &ThingStruct, item: &syn::ItemStruct) -> TokenStream {
    let p = Paths::new(s.attrs.crate_path.clone());
    let thing_impl = thing_impl(&p, s);
    let describe = describe_impl(&p, s);
    let assertions = assertions(&p, s);
    let client = client::struct_client(&p, s);
    let names = names_impl(&p, s);
    let states = s.state_machines.first().map(|(_, ty, attr)| {
        let (private, ident) = (&p.private, &s.ident);
        let spanned = quote_spanned!(attr.span()=> <#ty as #private::MachineOf>::State);
        quote! {
            #[automatically_derived]
            impl #private::HasStates for #ident {
                type States = #spanned;
            }
        }
    });
    quote! {
        #item
        #[doc(hidden)]
        #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
        const _: () = {
            #thing_impl
            #describe
            #names
            #states
            #assertions
        };
        #client
    }
}

fn thing_impl(p: &Paths, s: &ThingStruct) -> TokenStream {
    let (krate, private, ident) = (&p.krate, &p.private, &s.ident);
    let id = match &s.id {
        IdSource::Field(f, _) => quote!(#private::core::convert::AsRef::<str>::as_ref(&self.#f)),
        IdSource::Fixed(lit) => quote!(#lit),
        IdSource::Missing => quote!(""),
    };
    let d = Dispatch::thing();
    let read_arms = s.properties.iter().filter_map(|prop| property::read_arm(p, prop, &d));
    let write_arms = s.properties.iter().filter_map(|prop| property::write_arm(p, prop, &d));
    let restore_arms: Vec<TokenStream> =
        s.properties.iter().filter_map(|prop| property::restore_arm(p, prop)).collect();
    let restore = (!restore_arms.is_empty()).then(|| {
        quote! {
            fn restore_property(
                &mut self,
                name: &str,
                value: #private::ValueDeserializer<'_, '_>,
            ) -> #private::core::result::Result<(), #private::ThingError> {
                match name {
                    #(#restore_arms)*
                    _ => <Self as #krate::Thing>::write_property(self, name, value),
                }
            }
        }
    });
    let Dispatch { out, ct, value, .. } = &d;
    let table = quote!({
        #[allow(unused_imports)]
        use #private::{ViaMethods as _, ViaNoMethods as _};
        (&&#private::Probe::<#ident>::new()).methods()
    });
    let binds = s.events.iter().map(|e| {
        let (cfgs, member, wire) = (&e.cfgs, &e.member, &e.wire);
        quote!(#(#cfgs)* binder.bind(&self.#member, #wire);)
    });
    let (machine_bind, state_gate) = match s.state_machines.first() {
        Some((member, ty, _)) => (
            quote!(binder.bind_property_change(<#ty as #private::MachineOf>::changes(&self.#member), "state");),
            quote! {
                fn state_gate(&self) -> #private::core::option::Option<#private::StateGate> {
                    #private::core::option::Option::Some(#private::StateGate {
                        current: <#ty as #private::MachineOf>::reader(&self.#member),
                        allowed: (#table.allowed)(),
                    })
                }
            },
        ),
        None => (quote!(), quote!()),
    };
    quote! {
        #[automatically_derived]
        impl #krate::Thing for #ident {
            fn descriptor(&self) -> &'static #krate::ThingDescriptor {
                <Self as #krate::DescribeThing>::thing_descriptor()
            }

            fn thing_id(&self) -> &str {
                #id
            }

            fn read_property(
                &self,
                name: &str,
                #ct: &#private::ContentType,
                #out: &mut #private::std::vec::Vec<u8>,
            ) -> #private::core::result::Result<(), #private::ThingError> {
                match name {
                    #(#read_arms)*
                    _ => match (#table.read)(self, name, #ct, #out) {
                        #private::core::option::Option::Some(r) => r,
                        #private::core::option::Option::None => #private::core::result::Result::Err(#private::unknown("property", name)),
                    },
                }
            }

            fn write_property(
                &mut self,
                name: &str,
                #value: #private::ValueDeserializer<'_, '_>,
            ) -> #private::core::result::Result<(), #private::ThingError> {
                match name {
                    #(#write_arms)*
                    _ => match (#table.write)(self, name, #value) {
                        #private::core::option::Option::Some(r) => r,
                        #private::core::option::Option::None => #private::core::result::Result::Err(#private::unknown("writable property", name)),
                    },
                }
            }

            #restore

            fn invoke<'a>(&'a mut self, name: &str, args: #private::Args<'_>) -> #private::Invocation<'a> {
                match (#table.invoke)(self, name, args) {
                    #private::core::option::Option::Some(i) => i,
                    #private::core::option::Option::None => #private::Invocation::Done(#private::core::result::Result::Err(#private::unknown("queued action", name))),
                }
            }

            fn invoke_concurrent<'a>(&'a self, name: &str, args: #private::Args<'_>) -> #private::Invocation<'a> {
                match (#table.invoke_concurrent)(self, name, args) {
                    #private::core::option::Option::Some(i) => i,
                    #private::core::option::Option::None => #private::Invocation::Done(#private::core::result::Result::Err(#private::unknown("concurrent action", name))),
                }
            }

            fn invoke_blocking(&self, name: &str, args: #private::Args<'_>) -> #private::core::result::Result<#private::Output, #private::ThingError> {
                match (#table.invoke_blocking)(self, name, args) {
                    #private::core::option::Option::Some(r) => r,
                    #private::core::option::Option::None => #private::core::result::Result::Err(#private::unknown("threaded action", name)),
                }
            }

            fn bind_events(&mut self, binder: &#krate::EventBinder) {
                let _ = &binder;
                #(#binds)*
                #machine_bind
            }

            #state_gate

            fn polled(&self) -> #private::std::vec::Vec<#krate::PollSpec> {
                (#table.polled)()
            }
        }
    }
}

/// The wire names and client method names of the struct side, so that the impl block's expansion can refuse
/// clashes with a clear message (the two expansions cannot see each other).
fn names_impl(p: &Paths, s: &ThingStruct) -> TokenStream {
    let (private, ident) = (&p.private, &s.ident);
    let wires = s.properties.iter().map(|prop| {
        let (cfgs, wire) = (prop.cfgs(), &prop.wire);
        quote!(#(#cfgs)* #wire,)
    });
    let writable = s.properties.iter().filter(|prop| prop.opts.read_only.is_none()).map(|prop| {
        let (cfgs, wire) = (prop.cfgs(), &prop.wire);
        quote!(#(#cfgs)* #wire,)
    });
    let methods = s.client_methods().into_iter().map(|m| {
        let (name, cfgs) = (m.name(), m.cfgs);
        quote!(#(#cfgs)* #name,)
    });
    quote! {
        #[automatically_derived]
        impl #private::ThingNames for #ident {
            const PROPERTIES: &'static [&'static str] = &[#(#wires)*];
            const WRITABLE: &'static [&'static str] = &[#(#writable)*];
            const CLIENT_METHODS: &'static [&'static str] = &[#(#methods)*];
        }
    }
}

fn describe_impl(p: &Paths, s: &ThingStruct) -> TokenStream {
    let (krate, private, ident) = (&p.krate, &p.private, &s.ident);
    let title = s.attrs.title.as_ref().map(|t| t.value()).unwrap_or_else(|| ident.to_string());
    let description = opt_str(p, s.attrs.description.as_ref().map(|d| d.value()).or_else(|| s.docs.clone()));
    let properties = s.properties.iter().filter_map(|prop| property::descriptor(p, prop));
    let events = s.events.iter().map(|e| event_descriptor(p, e));
    quote! {
        #[automatically_derived]
        impl #krate::DescribeThing for #ident {
            fn thing_descriptor() -> &'static #krate::ThingDescriptor {
                static DESCRIPTOR: #private::std::sync::OnceLock<#krate::ThingDescriptor> = #private::std::sync::OnceLock::new();
                DESCRIPTOR.get_or_init(|| {
                    #[allow(unused_imports)]
                    use #private::{ViaMethods as _, ViaNoMethods as _};
                    let methods = (&&#private::Probe::<#ident>::new()).methods();
                    #[allow(unused_mut)]
                    let mut properties = #private::std::vec::Vec::new();
                    #(#properties)*
                    #[allow(unused_mut)]
                    let mut events = #private::std::vec::Vec::new();
                    #(#events)*
                    #private::build_descriptor(#title, #description, properties, (methods.properties)(), (methods.actions)(), events)
                })
            }
        }
    }
}

fn event_descriptor(p: &Paths, e: &FieldEvent) -> TokenStream {
    let (private, cfgs, wire) = (&p.private, &e.cfgs, &e.wire);
    let title = opt_lit(p, &e.opts.title);
    let description = opt_str(p, e.opts.description.as_ref().map(|d| d.value()).or_else(|| e.docs.clone()));
    let data = match &e.data {
        Some(t) => {
            let f = value_schema_fn(p, t, &Default::default());
            quote!(#private::core::option::Option::Some(#f))
        }
        None => quote!(#private::core::option::Option::None),
    };
    quote! {
        #(#cfgs)*
        events.push(#private::EventDescriptor { name: #wire, title: #title, description: #description, data: #data });
    }
}

/// Bounds the user's types must meet, checked where the types are written.
fn assertions(p: &Paths, s: &ThingStruct) -> TokenStream {
    let private = &p.private;
    let mut out = TokenStream::new();
    if let IdSource::Field(_, ty) = &s.id {
        out.extend(quote_spanned!(ty.span()=> #private::assert_id::<#ty>();));
    }
    for prop in &s.properties {
        out.extend(property::assertions(p, prop));
    }
    for e in &s.events {
        if let Some(data) = &e.data {
            let cfgs = &e.cfgs;
            let ty = &e.ty;
            out.extend(quote!(#(#cfgs)* let _: #private::core::marker::PhantomData<#ty> = #private::core::marker::PhantomData::<#private::Event<#data>>;));
            out.extend(quote_spanned!(data.span()=> #(#cfgs)* let _ = || { #private::assert_event_data::<#data>(); #private::assert_client_decodable::<#data>(); };));
        }
    }
    quote! {
        #[allow(dead_code, clippy::all)]
        fn __assertions() {
            #out
        }
    }
}
