use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn add(&self, (a, b): (u32, u32)) -> u32 {
        a + b
    }
}

fn main() {}
