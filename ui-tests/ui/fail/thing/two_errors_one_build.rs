// Two unrelated mistakes in one struct: both are reported by the same build.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(readonly)]
    serial: String,
    #[property(minimum = 0, minimum = 1)]
    level: u32,
}

fn main() {}
