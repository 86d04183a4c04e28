use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    level: u32,
    #[event(rename = "level")]
    level_event: Event<u32>,
}

fn main() {}
