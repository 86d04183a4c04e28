use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(minimum = 0, maximum = 10, minimum = 1)]
    level: u32,
}

fn main() {}
