use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn calibrate(self: &Self) {}
}

fn main() {}
