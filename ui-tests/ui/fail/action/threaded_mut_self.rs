use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(threaded)]
    fn calibrate(&mut self) {}
}

fn main() {}
