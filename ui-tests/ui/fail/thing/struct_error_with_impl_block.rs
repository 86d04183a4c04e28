// A mistake on the struct side must not bury the user under follow-up errors from the impl block.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(readonly)]
    serial: String,
}

#[thing]
impl Sensor {
    #[action]
    fn reset(&mut self) {}
}

fn main() {}
