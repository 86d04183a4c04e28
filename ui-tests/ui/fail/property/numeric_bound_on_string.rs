use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(minimum = 1)]
    name: String,
}

fn main() {}
