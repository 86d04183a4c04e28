use thingwire::prelude::*;

#[thing(titel = "Sensor")]
pub struct Sensor {
    id: String,
}

fn main() {}
