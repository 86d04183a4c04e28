use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    fn level(&self, channel: u8) -> u32 {
        u32::from(channel)
    }
}

fn main() {}
