use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    level: u32,
}

#[thing]
impl Sensor {
    #[property]
    fn level(&self) -> u32 {
        self.level
    }

    #[property(seter)]
    fn set_level(&mut self, value: u32) {
        self.level = value;
    }
}

fn main() {}
