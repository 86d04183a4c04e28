use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[event]
    fn overheated(&self) {}
}

fn main() {}
