use thingwire::prelude::*;

#[thing(crate = "::thing wire")]
pub struct Sensor {
    id: String,
}

fn main() {}
