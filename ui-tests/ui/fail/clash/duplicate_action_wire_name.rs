use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn start(&self) {}

    #[action(rename = "start")]
    fn begin(&self) {}
}

fn main() {}
