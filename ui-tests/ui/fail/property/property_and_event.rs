use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    #[event]
    level: Event<u32>,
}

fn main() {}
