//! Things in nested modules, with the impl block in the struct's module, in a child module (reaching the
//! struct by a path), and clients used from outside.

mod lab {
    pub mod optics {
        use thingwire::prelude::*;

        #[thing]
        pub struct Laser {
            pub(crate) id: String,
            #[property(minimum = 0, maximum = 100)]
            pub(crate) power: u8,
        }

        #[thing]
        impl Laser {
            #[action]
            fn fire(&self) -> bool {
                self.power > 0
            }
        }

        pub mod shutters {
            use thingwire::prelude::*;

            #[thing]
            pub struct Shutter {
                pub(crate) id: String,
            }

            pub mod logic {
                #[thingwire::thing]
                impl super::Shutter {
                    #[action]
                    fn open(&mut self) {}
                }
            }
        }
    }
}

use lab::optics::shutters::ShutterClient;
use lab::optics::{Laser, LaserClient};

#[allow(dead_code)]
async fn drive() -> Result<(), thingwire::ClientError> {
    let laser = LaserClient::connect("inproc://lab", "laser").await?;
    let _: bool = laser.fire().await?;
    laser.set_power(5).await?;
    ShutterClient::connect("inproc://lab", "shutter").await?.open().await?;
    Ok(())
}

fn main() {
    let laser = Laser { id: "laser".into(), power: 1 };
    let shutter = lab::optics::shutters::Shutter { id: "shutter".into() };
    let _ = thingwire::Server::builder("lab").thing(laser).thing(shutter);
}
