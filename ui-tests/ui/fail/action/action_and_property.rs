use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    #[property]
    fn level(&self) -> u32 {
        1
    }
}

fn main() {}
