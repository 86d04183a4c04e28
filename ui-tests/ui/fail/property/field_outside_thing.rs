use thingwire::prelude::*;

pub struct Sensor {
    id: String,
    #[property]
    level: u32,
}

fn main() {}
