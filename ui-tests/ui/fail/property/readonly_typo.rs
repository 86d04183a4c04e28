use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(readonly)]
    serial: String,
}

fn main() {}
