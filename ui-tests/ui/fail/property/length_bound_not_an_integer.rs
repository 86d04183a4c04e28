use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(max_items = 2.5)]
    channels: Vec<u8>,
}

fn main() {}
