use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event]
    overheated: u32,
}

fn main() {}
