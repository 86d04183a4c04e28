use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn scale<T: Into<f64>>(&self, value: T) -> f64 {
        value.into()
    }
}

fn main() {}
