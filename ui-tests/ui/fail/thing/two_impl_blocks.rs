use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn start(&self) {}
}

#[thing]
impl Sensor {
    #[action]
    fn stop(&self) {}
}

fn main() {}
