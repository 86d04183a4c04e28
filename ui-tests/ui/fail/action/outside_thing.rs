use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

impl Sensor {
    #[action]
    fn calibrate(&self) {}
}

fn main() {}
