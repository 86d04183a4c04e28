impl Spectrometer {
    /// Acquire one spectrum
    async fn acquire(&mut self) -> Result<Vec<f64>, DeviceError> {
        self.driver.acquire().await
    }
    fn calibrate(&self, reference: Vec<f64>, gain: Option<f64>) -> f64 {
        reference.iter().sum::<f64>() * gain.unwrap_or(1.0)
    }
    fn temperature(&self) -> f64 {
        21.5
    }
}
#[doc(hidden)]
#[allow(clippy::all, clippy::pedantic, unused_qualifications)]
const _: () = {
    #[automatically_derived]
    impl ::thingwire::__private::ThingMethods for Spectrometer {
        fn methods() -> ::thingwire::__private::MethodTable<Self> {
            ::thingwire::__private::MethodTable {
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
    fn __allowed() -> ::thingwire::__private::std::vec::Vec<
        (
            &'static str,
            ::thingwire::__private::std::vec::Vec<
                ::thingwire::__private::std::string::String,
            >,
        ),
    > {
        ::thingwire::__private::std::vec![]
    }
    fn __polled() -> ::thingwire::__private::std::vec::Vec<::thingwire::PollSpec> {
        #[allow(unused_mut)]
        let mut polled = ::thingwire::__private::std::vec::Vec::new();
        polled
    }
    fn __properties() -> ::thingwire::__private::std::vec::Vec<
        ::thingwire::PropertyDescriptor,
    > {
        #[allow(unused_mut)]
        let mut properties = ::thingwire::__private::std::vec::Vec::new();
        properties
            .push(::thingwire::PropertyDescriptor {
                name: "temperature",
                title: ::thingwire::__private::core::option::Option::None,
                description: ::thingwire::__private::core::option::Option::None,
                read_only: true,
                observable: false,
                computed: true,
                persist: ::thingwire::Persist::Off,
                unit: ::thingwire::__private::core::option::Option::None,
                schema: {
                    fn __schema(
                        generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                    ) -> ::thingwire::__private::schemars::Schema {
                        ::thingwire::__private::value_schema::<
                            f64,
                        >(
                            generator,
                            &[],
                            ::thingwire::__private::core::option::Option::None,
                        )
                    }
                    __schema
                },
            });
        properties
    }
    fn __actions() -> ::thingwire::__private::std::vec::Vec<
        ::thingwire::ActionDescriptor,
    > {
        #[allow(unused_mut)]
        let mut actions = ::thingwire::__private::std::vec::Vec::new();
        actions
            .push(::thingwire::ActionDescriptor {
                name: "acquire",
                title: ::thingwire::__private::core::option::Option::None,
                description: ::thingwire::__private::core::option::Option::Some(
                    "Acquire one spectrum",
                ),
                mode: ::thingwire::__private::ExecutionMode::Queued,
                blocking: false,
                invocation_timeout: ::thingwire::__private::core::option::Option::None,
                execution_timeout: ::thingwire::__private::core::option::Option::Some(
                    ::thingwire::__private::core::time::Duration::from_nanos(
                        5000000000u64,
                    ),
                ),
                safe: false,
                idempotent: false,
                input: ::thingwire::__private::core::option::Option::None,
                output: ::thingwire::__private::core::option::Option::Some({
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
        actions
            .push(::thingwire::ActionDescriptor {
                name: "calibrate",
                title: ::thingwire::__private::core::option::Option::None,
                description: ::thingwire::__private::core::option::Option::None,
                mode: ::thingwire::__private::ExecutionMode::Threaded,
                blocking: true,
                invocation_timeout: ::thingwire::__private::core::option::Option::None,
                execution_timeout: ::thingwire::__private::core::option::Option::None,
                safe: false,
                idempotent: false,
                input: ::thingwire::__private::core::option::Option::Some({
                    fn __input(
                        generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                    ) -> ::thingwire::__private::schemars::Schema {
                        ::thingwire::__private::args_schema(
                            generator,
                            &[
                                ::thingwire::__private::Param {
                                    name: "reference",
                                    schema: {
                                        fn __schema(
                                            generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                                        ) -> ::thingwire::__private::schemars::Schema {
                                            ::thingwire::__private::value_schema::<
                                                Vec<f64>,
                                            >(
                                                generator,
                                                &[
                                                    ::thingwire::__private::Bound::MinItems(
                                                        ::thingwire::__private::BoundLength::to_u64(1),
                                                    ),
                                                ],
                                                ::thingwire::__private::core::option::Option::None,
                                            )
                                        }
                                        __schema
                                    },
                                    required: true,
                                },
                                ::thingwire::__private::Param {
                                    name: "gain",
                                    schema: {
                                        fn __schema(
                                            generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                                        ) -> ::thingwire::__private::schemars::Schema {
                                            ::thingwire::__private::value_schema::<
                                                f64,
                                            >(
                                                generator,
                                                &[],
                                                ::thingwire::__private::core::option::Option::None,
                                            )
                                        }
                                        __schema
                                    },
                                    required: false,
                                },
                            ],
                        )
                    }
                    __input
                }),
                output: ::thingwire::__private::core::option::Option::Some({
                    fn __schema(
                        generator: &mut ::thingwire::__private::schemars::SchemaGenerator,
                    ) -> ::thingwire::__private::schemars::Schema {
                        ::thingwire::__private::value_schema::<
                            f64,
                        >(
                            generator,
                            &[],
                            ::thingwire::__private::core::option::Option::None,
                        )
                    }
                    __schema
                }),
            });
        actions
    }
    #[allow(unused_variables)]
    fn __read(
        __this: &Spectrometer,
        __name: &str,
        __ct: &::thingwire::__private::ContentType,
        __out: &mut ::thingwire::__private::std::vec::Vec<u8>,
    ) -> ::thingwire::__private::core::option::Option<
        ::thingwire::__private::core::result::Result<
            (),
            ::thingwire::__private::ThingError,
        >,
    > {
        match __name {
            "temperature" => {
                ::thingwire::__private::core::option::Option::Some(
                    ::thingwire::__private::encode_property(
                        __out,
                        &<Spectrometer>::temperature(__this),
                        __ct,
                    ),
                )
            }
            _ => ::thingwire::__private::core::option::Option::None,
        }
    }
    #[allow(unused_variables)]
    fn __write(
        __this: &mut Spectrometer,
        __name: &str,
        __value_in: ::thingwire::__private::ValueDeserializer<'_, '_>,
    ) -> ::thingwire::__private::core::option::Option<
        ::thingwire::__private::core::result::Result<
            (),
            ::thingwire::__private::ThingError,
        >,
    > {
        match __name {
            _ => ::thingwire::__private::core::option::Option::None,
        }
    }
    #[allow(non_snake_case, unused_parens)]
    fn __decode_acquire(
        __args: ::thingwire::__private::Args<'_>,
    ) -> ::thingwire::__private::core::result::Result<
        (),
        ::thingwire::__private::ThingError,
    > {
        let () = ::thingwire::__private::ArgSlots::<()>::new(&[]).decode(__args)?;
        ::thingwire::__private::core::result::Result::Ok(())
    }
    #[allow(non_snake_case, unused_parens)]
    fn __decode_calibrate(
        __args: ::thingwire::__private::Args<'_>,
    ) -> ::thingwire::__private::core::result::Result<
        (Vec<f64>, Option<f64>),
        ::thingwire::__private::ThingError,
    > {
        let (reference, gain) = ::thingwire::__private::ArgSlots::<
            (Vec<f64>, Option<f64>),
        >::new(&["reference", "gain"])
            .decode(__args)?;
        let reference = ::thingwire::__private::required(reference, "reference")?;
        ::thingwire::__private::check_length(
            "argument `reference` of `calibrate`",
            &reference,
            &[
                ::thingwire::__private::Bound::MinItems(
                    ::thingwire::__private::BoundLength::to_u64(1),
                ),
            ],
        )?;
        let gain = gain.flatten();
        ::thingwire::__private::core::result::Result::Ok((reference, gain))
    }
    #[allow(unused_variables)]
    fn __invoke<'a>(
        __this: &'a mut Spectrometer,
        __name: &str,
        __args: ::thingwire::__private::Args<'_>,
    ) -> ::thingwire::__private::core::option::Option<
        ::thingwire::__private::Invocation<'a>,
    > {
        match __name {
            "acquire" => {
                ::thingwire::__private::core::option::Option::Some(
                    match __decode_acquire(__args) {
                        ::thingwire::__private::core::result::Result::Ok(()) => {
                            let __ct = ::thingwire::__private::core::clone::Clone::clone(
                                __args.content_type,
                            );
                            ::thingwire::__private::Invocation::pending(async move {
                                match <Spectrometer>::acquire(__this).await {
                                    ::thingwire::__private::core::result::Result::Ok(
                                        __value,
                                    ) => ::thingwire::__private::output_value(&__value, &__ct),
                                    ::thingwire::__private::core::result::Result::Err(
                                        __error,
                                    ) => {
                                        ::thingwire::__private::core::result::Result::Err({
                                            #[allow(unused_imports)]
                                            use ::thingwire::__private::{
                                                ViaDisplay as _, ViaThingError as _,
                                            };
                                            (&&::thingwire::__private::ErrorWrap(__error))
                                                .into_thing_error()
                                        })
                                    }
                                }
                            })
                        }
                        ::thingwire::__private::core::result::Result::Err(e) => {
                            ::thingwire::__private::Invocation::Done(
                                ::thingwire::__private::core::result::Result::Err(e),
                            )
                        }
                    },
                )
            }
            _ => ::thingwire::__private::core::option::Option::None,
        }
    }
    #[allow(unused_variables)]
    fn __invoke_concurrent<'a>(
        __this: &'a Spectrometer,
        __name: &str,
        __args: ::thingwire::__private::Args<'_>,
    ) -> ::thingwire::__private::core::option::Option<
        ::thingwire::__private::Invocation<'a>,
    > {
        match __name {
            _ => ::thingwire::__private::core::option::Option::None,
        }
    }
    #[allow(unused_variables)]
    fn __invoke_blocking(
        __this: &Spectrometer,
        __name: &str,
        __args: ::thingwire::__private::Args<'_>,
    ) -> ::thingwire::__private::core::option::Option<
        ::thingwire::__private::core::result::Result<
            ::thingwire::__private::Output,
            ::thingwire::__private::ThingError,
        >,
    > {
        match __name {
            "calibrate" => {
                ::thingwire::__private::core::option::Option::Some(
                    match __decode_calibrate(__args) {
                        ::thingwire::__private::core::result::Result::Ok(
                            (reference, gain),
                        ) => {
                            let __ct = ::thingwire::__private::core::clone::Clone::clone(
                                __args.content_type,
                            );
                            ::thingwire::__private::output_value(
                                &<Spectrometer>::calibrate(__this, reference, gain),
                                &__ct,
                            )
                        }
                        ::thingwire::__private::core::result::Result::Err(e) => {
                            ::thingwire::__private::core::result::Result::Err(e)
                        }
                    },
                )
            }
            _ => ::thingwire::__private::core::option::Option::None,
        }
    }
    #[allow(dead_code, clippy::all)]
    fn __assertions() {
        ::thingwire::__private::assert_thing_struct::<Spectrometer>();
        let _ = || {
            ::thingwire::__private::assert_returnable::<Vec<f64>>();
            ::thingwire::__private::assert_client_decodable::<Vec<f64>>();
            ::thingwire::__private::assert_error::<DeviceError>();
        };
        let _ = || {
            ::thingwire::__private::assert_argument::<Vec<f64>>();
            ::thingwire::__private::assert_schema::<Vec<f64>>();
            ::thingwire::__private::assert_has_length::<Vec<f64>>();
            ::thingwire::__private::assert_argument::<Option<f64>>();
            ::thingwire::__private::assert_schema::<f64>();
            ::thingwire::__private::assert_returnable::<f64>();
            ::thingwire::__private::assert_client_decodable::<f64>();
        };
        let _ = || {
            ::thingwire::__private::assert_readable::<f64>();
            ::thingwire::__private::assert_client_decodable::<f64>();
        };
    }
    const _: () = ::core::assert!(
        ! ::thingwire::__private::name_in(< Spectrometer as
        ::thingwire::__private::ThingNames > ::PROPERTIES, "temperature"),
        "property `temperature` is defined twice: by a field of the struct and by this getter; rename one of them"
    );
    const _: () = ::core::assert!(
        ! ::thingwire::__private::name_in(< Spectrometer as
        ::thingwire::__private::ThingNames > ::CLIENT_METHODS, "acquire"),
        "the generated client would have two methods named `acquire`: one for a member of the struct and one for this member; rename one of them"
    );
    const _: () = ::core::assert!(
        ! ::thingwire::__private::name_in(< Spectrometer as
        ::thingwire::__private::ThingNames > ::CLIENT_METHODS, "calibrate"),
        "the generated client would have two methods named `calibrate`: one for a member of the struct and one for this member; rename one of them"
    );
    const _: () = ::core::assert!(
        ! ::thingwire::__private::name_in(< Spectrometer as
        ::thingwire::__private::ThingNames > ::CLIENT_METHODS, "temperature"),
        "the generated client would have two methods named `temperature`: one for a member of the struct and one for this member; rename one of them"
    );
};
#[allow(dead_code)]
impl __ThingwireClientOfSpectrometer {
    /// Acquire one spectrum
    pub async fn acquire(
        &self,
    ) -> ::thingwire::__private::core::result::Result<
        Vec<f64>,
        ::thingwire::ClientError,
    > {
        let content_type = self.handle().content_type();
        let payload = ::thingwire::__private::Kwargs::new(&content_type, 0u32).finish();
        self.handle().invoke_encoded::<Vec<f64>>("acquire", payload, &content_type).await
    }
    pub async fn calibrate(
        &self,
        reference: Vec<f64>,
        gain: Option<f64>,
    ) -> ::thingwire::__private::core::result::Result<f64, ::thingwire::ClientError> {
        let content_type = self.handle().content_type();
        let payload = ::thingwire::__private::Kwargs::new(&content_type, 2u32)
            .arg("reference", &reference)?
            .arg("gain", &gain)?
            .finish();
        self.handle().invoke_encoded::<f64>("calibrate", payload, &content_type).await
    }
    pub async fn temperature(
        &self,
    ) -> ::thingwire::__private::core::result::Result<f64, ::thingwire::ClientError> {
        self.handle().read("temperature").await
    }
}
