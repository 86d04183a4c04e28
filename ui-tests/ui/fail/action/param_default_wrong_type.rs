use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn scale(&self, #[param(default = "two")] factor: f64) -> f64 {
        factor
    }
}

fn main() {}
