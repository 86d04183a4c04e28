// Regression (was a macro bug): `#[thingwire::action]` written with its path is recognised.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[thingwire::action]
    fn calibrate(&self) {}
}

fn main() {}
