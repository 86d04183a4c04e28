use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(concurrent)]
    async fn calibrate(&mut self) {}
}

fn main() {}
