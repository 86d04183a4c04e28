use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(execution_timeout = "1s", safe, execution_timeout = "2s")]
    fn calibrate(&self) {}
}

fn main() {}
