use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(maximum = "ten")]
    level: u32,
}

fn main() {}
