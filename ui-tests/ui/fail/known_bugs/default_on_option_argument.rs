// KNOWN BUG (reported): `#[param(default = ...)]` on an `Option<T>` argument compiles neither as `3` nor as
// `Some(3)`; one of them should.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn average(&self, #[param(default = 3)] samples: Option<u8>) -> u8 {
        samples.unwrap_or(1)
    }
}

fn main() {}
