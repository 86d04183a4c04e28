use thingwire::prelude::*;

pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn reset(&mut self) {
        self.id.clear();
    }
}

fn main() {}
