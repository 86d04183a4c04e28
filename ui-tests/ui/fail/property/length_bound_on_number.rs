use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(min_length = 1)]
    level: u32,
}

fn main() {}
