use thingwire::prelude::*;

#[thing(name = "sensor")]
pub struct Sensor {
    id: String,
}

fn main() {}
