use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(frobnicate)]
    serial: String,
}

fn main() {}
