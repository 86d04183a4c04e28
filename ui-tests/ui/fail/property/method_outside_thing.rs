use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

impl Sensor {
    #[property]
    fn level(&self) -> u32 {
        1
    }
}

fn main() {}
