use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    level: u32,
    #[property(rename = "level")]
    raw_level: u32,
}

fn main() {}
