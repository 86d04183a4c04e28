use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    fn level(&self) -> u32 {
        1
    }

    #[property(rename = "level")]
    fn other_level(&self) -> u32 {
        2
    }
}

fn main() {}
