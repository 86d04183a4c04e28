use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    level: u32,
}

#[thing]
impl Sensor {
    #[property(read_only)]
    fn level(&self) -> u32 {
        self.level
    }

    #[property(setter)]
    fn set_level(&mut self, value: u32) {
        self.level = value;
    }
}

fn main() {}
