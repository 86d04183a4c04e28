/// A fibre spectrometer
pub struct Spectrometer {
    id: String,
    /// Integration time in milliseconds
    integration_time_ms: u32,
    serial_number: String,
    /// A new spectrum is ready
    spectrum_ready: Event<Vec<f64>>,
    driver: Driver,
}
#[doc(hidden)]
#[allow(clippy::all, clippy::pedantic, unused_qualifications)]
const _: () = {
    #[automatically_derived]
    impl ::thingwire::Thing for Spectrometer {
        fn descriptor(&self) -> &'static ::thingwire::ThingDescriptor {
            <Self as ::thingwire::DescribeThing>::thing_descriptor()
        }
        fn thing_id(&self) -> &str {
            ::thingwire::__private::core::convert::AsRef::<str>::as_ref(&self.id)
        }
        fn read_property(
            &self,
            name: &str,
            ct: &::thingwire::__private::ContentType,
            out: &mut ::thingwire::__private::std::vec::Vec<u8>,
        ) -> ::thingwire::__private::core::result::Result<
            (),
            ::thingwire::__private::ThingError,
        > {
            match name {
                "integration_time_ms" => {
                    ::thingwire::__private::encode_property(
                        out,
                        &self.integration_time_ms,
                        ct,
                    )
                }
                "serial_number" => {
                    ::thingwire::__private::encode_property(out, &self.serial_number, ct)
                }
                _ => {
                    match ({
                        #[allow(unused_imports)]
                        use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                        (&&::thingwire::__private::Probe::<Spectrometer>::new())
                            .methods()
                    }
                        .read)(self, name, ct, out)
                    {
                        ::thingwire::__private::core::option::Option::Some(r) => r,
                        ::thingwire::__private::core::option::Option::None => {
                            ::thingwire::__private::core::result::Result::Err(
                                ::thingwire::__private::unknown("property", name),
                            )
                        }
                    }
                }
            }
        }
        fn write_property(
            &mut self,
            name: &str,
            value: ::thingwire::__private::ValueDeserializer<'_, '_>,
        ) -> ::thingwire::__private::core::result::Result<
            (),
            ::thingwire::__private::ThingError,
        > {
            match name {
                "integration_time_ms" => {
                    let __value: u32 = ::thingwire::__private::decode_property(
                        value,
                        "integration_time_ms",
                    )?;
                    ::thingwire::__private::check_numeric(
                        "property `integration_time_ms`",
                        &__value,
                        &[
                            ::thingwire::__private::Bound::Minimum(
                                ::thingwire::__private::BoundNumber::to_f64(1),
                            ),
                            ::thingwire::__private::Bound::Maximum(
                                ::thingwire::__private::BoundNumber::to_f64(10_000),
                            ),
                        ],
                    )?;
                    self.integration_time_ms = __value;
                    ::thingwire::__private::core::result::Result::Ok(())
                }
                "serial_number" => {
                    ::thingwire::__private::core::result::Result::Err(
                        ::thingwire::__private::ThingError::attribute_error(
                            "property `serial_number` is read-only",
                        ),
                    )
                }
                _ => {
                    match ({
                        #[allow(unused_imports)]
                        use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                        (&&::thingwire::__private::Probe::<Spectrometer>::new())
                            .methods()
                    }
                        .write)(self, name, value)
                    {
                        ::thingwire::__private::core::option::Option::Some(r) => r,
                        ::thingwire::__private::core::option::Option::None => {
                            ::thingwire::__private::core::result::Result::Err(
                                ::thingwire::__private::unknown("writable property", name),
                            )
                        }
                    }
                }
            }
        }
        fn invoke<'a>(
            &'a mut self,
            name: &str,
            args: ::thingwire::__private::Args<'_>,
        ) -> ::thingwire::__private::Invocation<'a> {
            match ({
                #[allow(unused_imports)]
                use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                (&&::thingwire::__private::Probe::<Spectrometer>::new()).methods()
            }
                .invoke)(self, name, args)
            {
                ::thingwire::__private::core::option::Option::Some(i) => i,
                ::thingwire::__private::core::option::Option::None => {
                    ::thingwire::__private::Invocation::Done(
                        ::thingwire::__private::core::result::Result::Err(
                            ::thingwire::__private::unknown("queued action", name),
                        ),
                    )
                }
            }
        }
        fn invoke_concurrent<'a>(
            &'a self,
            name: &str,
            args: ::thingwire::__private::Args<'_>,
        ) -> ::thingwire::__private::Invocation<'a> {
            match ({
                #[allow(unused_imports)]
                use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                (&&::thingwire::__private::Probe::<Spectrometer>::new()).methods()
            }
                .invoke_concurrent)(self, name, args)
            {
                ::thingwire::__private::core::option::Option::Some(i) => i,
                ::thingwire::__private::core::option::Option::None => {
                    ::thingwire::__private::Invocation::Done(
                        ::thingwire::__private::core::result::Result::Err(
                            ::thingwire::__private::unknown("concurrent action", name),
                        ),
                    )
                }
            }
        }
        fn invoke_blocking(
            &self,
            name: &str,
            args: ::thingwire::__private::Args<'_>,
        ) -> ::thingwire::__private::core::result::Result<
            ::thingwire::__private::Output,
            ::thingwire::__private::ThingError,
        > {
            match ({
                #[allow(unused_imports)]
                use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                (&&::thingwire::__private::Probe::<Spectrometer>::new()).methods()
            }
                .invoke_blocking)(self, name, args)
            {
                ::thingwire::__private::core::option::Option::Some(r) => r,
                ::thingwire::__private::core::option::Option::None => {
                    ::thingwire::__private::core::result::Result::Err(
                        ::thingwire::__private::unknown("threaded action", name),
                    )
                }
            }
        }
        fn bind_events(&mut self, binder: &::thingwire::EventBinder) {
            let _ = &binder;
            binder.bind(&self.spectrum_ready, "spectrum_ready");
        }
        fn polled(
            &self,
        ) -> ::thingwire::__private::std::vec::Vec<::thingwire::PollSpec> {
            ({
                #[allow(unused_imports)]
                use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                (&&::thingwire::__private::Probe::<Spectrometer>::new()).methods()
            }
                .polled)()
        }
    }
    #[automatically_derived]
    impl ::thingwire::DescribeThing for Spectrometer {
        fn thing_descriptor() -> &'static ::thingwire::ThingDescriptor {
            static DESCRIPTOR: ::thingwire::__private::std::sync::OnceLock<
                ::thingwire::ThingDescriptor,
            > = ::thingwire::__private::std::sync::OnceLock::new();
            DESCRIPTOR
                .get_or_init(|| {
                    #[allow(unused_imports)]
                    use ::thingwire::__private::{ViaMethods as _, ViaNoMethods as _};
                    let methods = (&&::thingwire::__private::Probe::<
                        Spectrometer,
                    >::new())
                        .methods();
                    #[allow(unused_mut)]
                    let mut properties = ::thingwire::__private::std::vec::Vec::new();
                    properties
                        .push(::thingwire::PropertyDescriptor {
                            name: "integration_time_ms",
                            title: ::thingwire::__private::core::option::Option::None,
                            description: ::thingwire::__private::core::option::Option::Some(
                                "Integration time in milliseconds",
                            ),
                            read_only: false,
                            observable: true,
                            computed: false,
                            persist: ::thingwire::Persist::Off,
                            unit: ::thingwire::__private::core::option::Option::Some(
                                "ms",
                            ),
                            schema: {
                                fn __schema(
                                    generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                                ) -> ::thingwire::__private::schemars::Schema {
                                    ::thingwire::__private::value_schema::<
                                        u32,
                                    >(
                                        generator,
                                        &[
                                            ::thingwire::__private::Bound::Minimum(
                                                ::thingwire::__private::BoundNumber::to_f64(1),
                                            ),
                                            ::thingwire::__private::Bound::Maximum(
                                                ::thingwire::__private::BoundNumber::to_f64(10_000),
                                            ),
                                        ],
                                        ::thingwire::__private::core::option::Option::None,
                                    )
                                }
                                __schema
                            },
                        });
                    properties
                        .push(::thingwire::PropertyDescriptor {
                            name: "serial_number",
                            title: ::thingwire::__private::core::option::Option::None,
                            description: ::thingwire::__private::core::option::Option::None,
                            read_only: true,
                            observable: false,
                            computed: false,
                            persist: ::thingwire::Persist::Off,
                            unit: ::thingwire::__private::core::option::Option::None,
                            schema: {
                                fn __schema(
                                    generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                                ) -> ::thingwire::__private::schemars::Schema {
                                    ::thingwire::__private::value_schema::<
                                        String,
                                    >(
                                        generator,
                                        &[],
                                        ::thingwire::__private::core::option::Option::None,
                                    )
                                }
                                __schema
                            },
                        });
                    #[allow(unused_mut)]
                    let mut events = ::thingwire::__private::std::vec::Vec::new();
                    events
                        .push(::thingwire::__private::EventDescriptor {
                            name: "spectrum_ready",
                            title: ::thingwire::__private::core::option::Option::None,
                            description: ::thingwire::__private::core::option::Option::Some(
                                "A new spectrum is ready",
                            ),
                            data: ::thingwire::__private::core::option::Option::Some({
                                fn __schema(
                                    generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                                ) -> ::thingwire::__private::schemars::Schema {
                                    ::thingwire::__private::value_schema::<
                                        Vec<f64>,
                                    >(
                                        generator,
                                        &[],
                                        ::thingwire::__private::core::option::Option::None,
                                    )
                                }
                                __schema
                            }),
                        });
                    ::thingwire::__private::build_descriptor(
                        "Spectrometer",
                        ::thingwire::__private::core::option::Option::Some(
                            "A fibre spectrometer",
                        ),
                        properties,
                        (methods.properties)(),
                        (methods.actions)(),
                        events,
                    )
                })
        }
    }
    #[automatically_derived]
    impl ::thingwire::__private::ThingNames for Spectrometer {
        const PROPERTIES: &'static [&'static str] = &[
            "integration_time_ms",
            "serial_number",
        ];
        const WRITABLE: &'static [&'static str] = &["integration_time_ms"];
        const CLIENT_METHODS: &'static [&'static str] = &[
            "integration_time_ms",
            "set_integration_time_ms",
            "integration_time_ms_changes",
            "serial_number",
            "spectrum_ready",
        ];
    }
    #[allow(dead_code, clippy::all)]
    fn __assertions() {
        ::thingwire::__private::assert_id::<String>();
        let _ = || {
            ::thingwire::__private::assert_readable::<u32>();
            ::thingwire::__private::assert_client_decodable::<u32>();
            ::thingwire::__private::assert_writable::<u32>();
            ::thingwire::__private::assert_numeric::<u32>();
        };
        let _ = || {
            ::thingwire::__private::assert_readable::<String>();
            ::thingwire::__private::assert_client_decodable::<String>();
        };
        let _: ::thingwire::__private::core::marker::PhantomData<Event<Vec<f64>>> = ::thingwire::__private::core::marker::PhantomData::<
            ::thingwire::__private::Event<Vec<f64>>,
        >;
        let _ = || {
            ::thingwire::__private::assert_event_data::<Vec<f64>>();
            ::thingwire::__private::assert_client_decodable::<Vec<f64>>();
        };
    }
};
///Typed client for the [`Spectrometer`] Thing, generated by `#[thing]`: one async method per property, action and event.
#[derive(Clone, Debug)]
pub struct SpectrometerClient {
    handle: ::thingwire::ThingHandle,
}
#[doc(hidden)]
#[allow(non_camel_case_types, dead_code)]
pub type __ThingwireClientOfSpectrometer = SpectrometerClient;
#[allow(dead_code)]
impl SpectrometerClient {
    /// Connects to the server at `address` (`tcp://host:port`, `ipc://path` or `inproc://id`) and
    /// addresses the Thing `thing_id` there.
    pub async fn connect(
        address: &str,
        thing_id: &str,
    ) -> ::thingwire::__private::core::result::Result<Self, ::thingwire::ClientError> {
        ::thingwire::__private::core::result::Result::Ok(Self {
            handle: ::thingwire::ThingHandle::connect(address, thing_id).await?,
        })
    }
    /// Addresses a Thing over an existing connection.
    pub fn from_handle(handle: ::thingwire::ThingHandle) -> Self {
        Self { handle }
    }
    /// The connection and Thing id behind this client.
    pub fn handle(&self) -> &::thingwire::ThingHandle {
        &self.handle
    }
    /// A client whose calls wait at most `timeout` for a reply.
    pub fn with_timeout(
        &self,
        timeout: ::thingwire::__private::core::time::Duration,
    ) -> Self {
        Self {
            handle: self.handle.with_timeout(timeout),
        }
    }
    /// A client whose calls use `options` (timeouts sent to the server, content type, oneway…).
    pub fn with_options(&self, options: ::thingwire::CallOptions) -> Self {
        Self {
            handle: self.handle.with_options(options),
        }
    }
    /// Integration time in milliseconds
    pub async fn integration_time_ms(
        &self,
    ) -> ::thingwire::__private::core::result::Result<u32, ::thingwire::ClientError> {
        self.handle().read("integration_time_ms").await
    }
    ///Writes the `integration_time_ms` property.
    pub async fn set_integration_time_ms(
        &self,
        value: u32,
    ) -> ::thingwire::__private::core::result::Result<(), ::thingwire::ClientError> {
        self.handle().write("integration_time_ms", &value).await
    }
    ///Subscribes to changes of the observable `integration_time_ms` property.
    pub async fn integration_time_ms_changes(
        &self,
    ) -> ::thingwire::__private::core::result::Result<
        ::thingwire::Subscription<u32>,
        ::thingwire::ClientError,
    > {
        self.handle().subscribe("integration_time_ms_change_event").await
    }
    pub async fn serial_number(
        &self,
    ) -> ::thingwire::__private::core::result::Result<String, ::thingwire::ClientError> {
        self.handle().read("serial_number").await
    }
    /// A new spectrum is ready
    pub fn spectrum_ready(&self) -> ::thingwire::EventClient<Vec<f64>> {
        ::thingwire::EventClient::new(
            ::thingwire::__private::core::clone::Clone::clone(&self.handle),
            "spectrum_ready",
        )
    }
}
