use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

pub trait Reset {
    fn reset(&mut self);
}

#[thing]
impl Reset for Sensor {
    #[action]
    fn reset(&mut self) {}
}

fn main() {}
