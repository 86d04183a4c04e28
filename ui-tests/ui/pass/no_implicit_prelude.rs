//! Hygiene: a Thing in a `#![no_implicit_prelude]` module, so every path the macros generate must be
//! absolute.

mod hygiene {
    #![no_implicit_prelude]

    #[::thingwire::thing(title = "Hygienic")]
    pub struct Clean {
        id: ::std::string::String,
        #[property(minimum = 0, maximum = 10, observable)]
        level: u8,
        #[property(min_length = 1)]
        name: ::std::string::String,
        #[property(read_only)]
        tags: ::std::vec::Vec<::std::string::String>,
        #[event]
        changed: ::thingwire::Event<u8>,
    }

    #[::thingwire::thing]
    impl Clean {
        #[action(threaded)]
        fn blocking(&self, #[param(minimum = 1)] n: u32, maybe: ::std::option::Option<u8>) -> u32 {
            let _ = maybe;
            n
        }

        #[action(concurrent)]
        async fn later(&self) -> ::std::result::Result<u8, ::thingwire::ThingError> {
            ::std::result::Result::Ok(self.level)
        }

        #[action]
        fn raw(&mut self, data: ::thingwire::Bytes) -> ::thingwire::Bytes {
            data
        }

        #[property(unit = "V")]
        fn volts(&self) -> f64 {
            ::std::convert::From::from(self.level)
        }

        #[property(setter)]
        fn set_volts(&mut self, value: f64) -> ::std::result::Result<(), ::std::string::String> {
            let _ = value;
            ::std::result::Result::Ok(())
        }
    }

    pub fn make() -> Clean {
        Clean {
            id: ::std::string::ToString::to_string("clean"),
            level: 0,
            name: ::std::string::String::new(),
            tags: ::std::vec::Vec::new(),
            changed: ::thingwire::Event::new(),
        }
    }
}

#[allow(dead_code)]
async fn drive(c: &hygiene::CleanClient) -> Result<(), thingwire::ClientError> {
    let _: u32 = c.blocking(1, None).await?;
    let _: u8 = c.later().await?;
    c.set_volts(1.0).await?;
    let _ = c.changed().subscribe().await?;
    Ok(())
}

fn main() {
    let _ = thingwire::Server::builder("lab").thing(hygiene::make());
}
