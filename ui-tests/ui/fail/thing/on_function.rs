use thingwire::prelude::*;

#[thing]
fn sensor() -> u32 {
    1
}

fn main() {}
