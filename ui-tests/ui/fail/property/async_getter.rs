use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    async fn level(&self) -> u32 {
        1
    }
}

fn main() {}
