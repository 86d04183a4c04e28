use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(unit = ms)]
    delay: u32,
}

fn main() {}
