use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(setter)]
    level: u32,
}

fn main() {}
