use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    level: u32,
    #[property(read_only)]
    set_level: u32,
}

fn main() {}
