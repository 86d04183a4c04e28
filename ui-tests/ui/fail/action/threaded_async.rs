use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(threaded)]
    async fn calibrate(&self) {}
}

fn main() {}
