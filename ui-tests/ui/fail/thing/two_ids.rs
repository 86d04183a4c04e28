use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    #[id]
    serial: String,
    #[id]
    name: String,
}

fn main() {}
