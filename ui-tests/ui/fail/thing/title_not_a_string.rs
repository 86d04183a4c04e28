use thingwire::prelude::*;

#[thing(title = Sensor)]
pub struct Sensor {
    id: String,
}

fn main() {}
