use thingwire::prelude::*;

#[thing]
pub struct Anonymous {
    name: String,
    #[property]
    value: u32,
}

fn main() {}
