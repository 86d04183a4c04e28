use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property(observable)]
    fn level(&self) -> u32 {
        1
    }

    #[action]
    fn level_changes(&self) -> u32 {
        0
    }
}

fn main() {}
