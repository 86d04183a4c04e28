//! Procedural macros for [thingwire](https://docs.rs/thingwire): `#[thing]` on a struct and on its impl
//! block turns them into a served W3C Web-of-Things Thing with a Thing Description and a typed client.
//!
//! Use them through `thingwire` (`use thingwire::prelude::*;`), not from this crate directly.
//!
//! # `#[thing]` on a struct
//!
//! ```ignore
//! #[thing(title = "Spectrometer")]          // options: title, description, id, client, crate
//! pub struct Spectrometer {
//!     id: String,                            // the Thing's id (or mark another field `#[id]`)
//!     /// Integration time in milliseconds   (doc comments become TD descriptions)
//!     #[property(minimum = 1, maximum = 10_000, observable, unit = "ms")]
//!     integration_time_ms: u32,
//!     #[property(read_only)]
//!     serial_number: String,
//!     /// A new spectrum is ready
//!     #[event]
//!     spectrum_ready: Event<Vec<f64>>,
//!     driver: Driver,                        // no attribute: private state, never exposed
//! }
//! ```
//!
//! `#[property(...)]` keys: `read_only`, `observable`, `minimum`, `maximum`, `exclusive_minimum`,
//! `exclusive_maximum`, `multiple_of`, `min_items`, `max_items`, `min_length`, `max_length`, `default`,
//! `unit`, `rename`, `title`, `description`. Bounds are checked before a write reaches the field; a value out
//! of bounds gets a `ValueError` naming the property and the bound. `#[event(...)]` keys: `rename`, `title`,
//! `description`.
//!
//! # `#[thing]` on the impl block
//!
//! ```ignore
//! #[thing]
//! impl Spectrometer {
//!     /// Acquire one spectrum
//!     #[action(execution_timeout = "5s")]
//!     async fn acquire(&mut self) -> Result<Vec<f64>, DeviceError> { todo!() }
//!
//!     #[action(threaded)]                    // blocking code on a worker thread, outside the queue
//!     fn calibrate(&self, #[param(min_items = 1)] reference: Vec<f64>, gain: Option<f64>) -> f64 { todo!() }
//!
//!     #[property]                            // a computed property…
//!     fn temperature(&self) -> f64 { todo!() }
//!     #[property(setter)]                    // …with a setter named `set_<property>`
//!     fn set_temperature(&mut self, value: f64) -> Result<(), DeviceError> { todo!() }
//! }
//! ```
//!
//! `#[action(...)]` keys: `threaded` (a blocking `fn(&self)` run on a worker thread), `concurrent` (an
//! `async fn(&self)` run as its own task), `invocation_timeout`, `execution_timeout` (`"500ms"`, `"5s"`,
//! `"2min"`), `safe`, `idempotent`, `rename`, `title`, `description`. Without `threaded` or `concurrent` an
//! action is queued: it runs in the Thing's FIFO with `&self` or `&mut self`. Arguments of type `Option<T>`
//! may be left out; `#[param(...)]` takes bounds, `default` and `rename`. An action returns a value, `()`,
//! `Result<T, E>` (the error becomes an `EXCEPTION` named after `E`'s type, or the `ThingError` itself), or
//! `Bytes` (sent raw in the preserialized frame).
//!
//! # What is generated
//!
//! `impl Thing` and `impl DescribeThing` for the struct (dispatch, schemas, descriptors), and a typed client
//! `<Thing>Client` (rename with `#[thing(client = "Name")]`) with `connect(address, thing_id)`, one async
//! method per property (`x()`, `set_x(v)`, `x_changes()` when observable), per action, and per event
//! (`event().subscribe()`), plus `with_timeout`. The impl block's client methods reach the client type
//! through a hidden alias defined next to the struct, so keep the impl block where the struct's module is
//! visible.

mod attr;
mod check;
mod ctxt;
mod expand;
mod model;
mod names;
mod symbol;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;

use crate::ctxt::{Ctxt, with_item};

/// Makes a struct, or its impl block, a Thing. See the crate documentation.
#[proc_macro_attribute]
pub fn thing(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = TokenStream2::from(args);
    let input = TokenStream2::from(input);
    guard(input.clone(), || thing_inner(args, input)).into()
}

fn thing_inner(args: TokenStream2, input: TokenStream2) -> TokenStream2 {
    match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Struct(mut item)) => {
            let cx = Ctxt::new();
            let attrs = attr::thing_attrs(&cx, args, false);
            let model = model::read_struct(&cx, attrs, &mut item);
            check::check_struct(&cx, &model);
            match cx.check() {
                Ok(()) => expand::expand_struct(&model, &item),
                Err(e) => with_item(e, quote!(#item)),
            }
        }
        Ok(syn::Item::Impl(mut item)) => {
            let cx = Ctxt::new();
            let attrs = attr::thing_attrs(&cx, args, true);
            let model = model::read_impl(&cx, &mut item);
            check::check_impl(&cx, &model);
            match cx.check() {
                Ok(()) => expand::expand_impl(&model, &item, attrs.crate_path, &attrs.states),
                Err(e) => with_item(e, quote!(#item)),
            }
        }
        Ok(other) => with_item(
            syn::Error::new_spanned(
                item_keyword(&other),
                "`#[thing]` goes on a struct with named fields, or on that struct's `impl` block",
            ),
            input,
        ),
        Err(e) => with_item(e, input),
    }
}

fn item_keyword(item: &syn::Item) -> TokenStream2 {
    match item {
        syn::Item::Enum(e) => quote!(#e).into_iter().take(2).collect(),
        syn::Item::Fn(f) => {
            let sig = &f.sig;
            quote!(#sig)
        }
        other => quote!(#other).into_iter().take(3).collect(),
    }
}

/// Marks a field as a property (inside a `#[thing]` struct), or a method as a getter/setter property (inside a
/// `#[thing]` impl block). On its own it is an error.
#[proc_macro_attribute]
pub fn property(_args: TokenStream, input: TokenStream) -> TokenStream {
    outside(symbol::PROPERTY, "on a field of a `#[thing]` struct or a method of a `#[thing]` impl block", input)
}

/// Marks a method of a `#[thing]` impl block as an action. On its own it is an error.
#[proc_macro_attribute]
pub fn action(_args: TokenStream, input: TokenStream) -> TokenStream {
    outside(symbol::ACTION, "on a method of an `impl` block marked `#[thing]`", input)
}

/// Marks an `Event<T>` field of a `#[thing]` struct as an event. On its own it is an error.
#[proc_macro_attribute]
pub fn event(_args: TokenStream, input: TokenStream) -> TokenStream {
    outside(symbol::EVENT, "on an `Event<T>` field of a struct marked `#[thing]`", input)
}

fn outside(name: symbol::Symbol, place: &str, input: TokenStream) -> TokenStream {
    let input = TokenStream2::from(input);
    let span = input
        .clone()
        .into_iter()
        .find(|t| matches!(t, proc_macro2::TokenTree::Ident(i) if i == "fn" || i == "struct"))
        .map(|t| t.span())
        .unwrap_or_else(proc_macro2::Span::call_site);
    let error = syn::Error::new(span, format!("`#[{name}]` only works {place}; add `#[thing]` to the enclosing item"));
    with_item(error, input).into()
}

/// Turns a panic inside the macro into a compile error asking for a report, keeping the user's item.
fn guard(input: TokenStream2, f: impl FnOnce() -> TokenStream2) -> TokenStream2 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(out) => out,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let error = syn::Error::new(
                proc_macro2::Span::call_site(),
                format!("internal error in `#[thing]`, please report: {text}"),
            );
            with_item(error, input)
        }
    }
}
