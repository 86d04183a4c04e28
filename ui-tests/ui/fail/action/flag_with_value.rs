use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(threaded = true)]
    fn calibrate(&self) {}
}

fn main() {}
