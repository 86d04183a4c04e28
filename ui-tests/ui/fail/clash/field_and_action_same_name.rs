// The struct and the impl block are expanded separately: a field property and an action with the same name.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(read_only)]
    level: u32,
}

#[thing]
impl Sensor {
    #[action]
    fn level(&self) -> u32 {
        self.level
    }
}

fn main() {}
