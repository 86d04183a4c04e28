use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: u32,
}

fn main() {}
