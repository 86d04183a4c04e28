use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(invocation_timeout = 5)]
    fn calibrate(&self) {}
}

fn main() {}
