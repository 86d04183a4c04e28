use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    fn level(&self) -> u32 {
        1
    }

    #[property(setter)]
    fn set_level(&self, value: u32) {
        let _ = value;
    }
}

fn main() {}
