use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(concurrent)]
    fn calibrate(&self) {}
}

fn main() {}
