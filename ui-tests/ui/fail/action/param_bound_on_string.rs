use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn greet(&self, #[param(maximum = 3)] name: String) -> String {
        name
    }
}

fn main() {}
