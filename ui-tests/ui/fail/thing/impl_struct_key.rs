use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing(title = "Sensor")]
impl Sensor {
    #[action]
    fn reset(&mut self) {}
}

fn main() {}
