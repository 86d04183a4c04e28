use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl<T> Sensor {
    #[action]
    fn reset(&mut self) {}
}

fn main() {}
