use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(default = "fast")]
    rate: u32,
}

fn main() {}
