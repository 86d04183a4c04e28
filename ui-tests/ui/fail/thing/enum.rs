use thingwire::prelude::*;

#[thing]
pub enum Mode {
    On,
    Off,
}

fn main() {}
