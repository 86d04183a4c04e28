use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    fn helper(&self, #[param(minimum = 0)] value: u32) -> u32 {
        value
    }
}

fn main() {}
