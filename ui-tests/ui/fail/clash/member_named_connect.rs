use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    connect: bool,
}

fn main() {}
