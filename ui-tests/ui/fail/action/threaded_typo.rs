use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(treaded)]
    fn calibrate(&self) {}
}

fn main() {}
