use thingwire::prelude::*;

#[thing(client = "Sensor Client")]
pub struct Sensor {
    id: String,
}

fn main() {}
