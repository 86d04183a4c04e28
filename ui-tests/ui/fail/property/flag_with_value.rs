use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(read_only = true)]
    serial: String,
}

fn main() {}
