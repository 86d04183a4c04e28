use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    reads: u32,
}

#[thing]
impl Sensor {
    #[property]
    fn level(&mut self) -> u32 {
        self.reads += 1;
        self.reads
    }
}

fn main() {}
