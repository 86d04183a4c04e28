use thingwire::prelude::*;

#[thing(title = "One", title = "Two")]
pub struct Sensor {
    id: String,
}

fn main() {}
