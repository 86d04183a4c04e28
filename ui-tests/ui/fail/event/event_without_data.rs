use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event]
    overheated: Event,
}

fn main() {}
