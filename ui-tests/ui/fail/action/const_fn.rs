use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    const fn version(&self) -> u32 {
        1
    }
}

fn main() {}
