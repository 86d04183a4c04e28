use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    #[id(prefix = "lab-")]
    serial: String,
}

fn main() {}
