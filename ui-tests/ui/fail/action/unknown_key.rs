use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(priority = 1)]
    fn calibrate(&self) {}
}

fn main() {}
