// Regression (was a macro bug): `#[param(default = …)]` on an `Option<T>` argument.
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
