use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn scale(&self, value: impl Into<f64>) -> f64 {
        value.into()
    }
}

fn main() {}
