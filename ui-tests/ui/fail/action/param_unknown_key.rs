use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn scale(&self, #[param(minimun = 0)] value: f64) -> f64 {
        value
    }
}

fn main() {}
