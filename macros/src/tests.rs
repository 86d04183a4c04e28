//! Expansion snapshots: what `#[thing]` generates for a representative Thing, pretty-printed. Review a
//! change with `UPDATE_EXPECT=1 cargo test -p thingwire-macros` and `git diff`.

use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

fn expand(args: TokenStream, item: TokenStream) -> String {
    pretty(crate::thing_inner(args, item))
}

#[test]
fn struct_expansion() {
    let out = expand(
        quote!(title = "Spectrometer"),
        quote! {
            /// A fibre spectrometer
            pub struct Spectrometer {
                id: String,
                /// Integration time in milliseconds
                #[property(minimum = 1, maximum = 10_000, observable, unit = "ms")]
                integration_time_ms: u32,
                #[property(read_only)]
                serial_number: String,
                /// A new spectrum is ready
                #[event]
                spectrum_ready: Event<Vec<f64>>,
                driver: Driver,
            }
        },
    );
    expect_test::expect_file!["snapshots/struct_expansion.rs"].assert_eq(&out);
}

#[test]
fn impl_expansion() {
    let out = expand(
        quote!(),
        quote! {
            impl Spectrometer {
                /// Acquire one spectrum
                #[action(execution_timeout = "5s")]
                async fn acquire(&mut self) -> Result<Vec<f64>, DeviceError> {
                    self.driver.acquire().await
                }

                #[action(threaded)]
                fn calibrate(&self, #[param(min_items = 1)] reference: Vec<f64>, gain: Option<f64>) -> f64 {
                    reference.iter().sum::<f64>() * gain.unwrap_or(1.0)
                }

                #[property]
                fn temperature(&self) -> f64 {
                    21.5
                }
            }
        },
    );
    expect_test::expect_file!["snapshots/impl_expansion.rs"].assert_eq(&out);
}

#[test]
fn errors_come_all_at_once_with_the_item_kept() {
    let out = crate::thing_inner(
        quote!(),
        quote! {
            struct Broken {
                id: String,
                #[property(readonly, minimum = 1, minimum = 2)]
                x: u32,
                #[event]
                e: u32,
            }
        },
    )
    .to_string();
    assert!(out.contains("unknown `property` attribute `readonly`, did you mean `read_only`?"), "{out}");
    assert!(out.contains("duplicate `property` attribute `minimum`"), "{out}");
    assert!(out.contains("must have the type `Event<T>`"), "{out}");
    assert!(out.contains("struct Broken"), "the user's item is emitted again: {out}");
}
