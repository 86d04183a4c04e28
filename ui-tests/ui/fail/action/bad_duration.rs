use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(execution_timeout = "5 parsecs")]
    fn calibrate(&self) {}
}

fn main() {}
