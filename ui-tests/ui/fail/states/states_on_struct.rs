use thingwire::prelude::*;

#[thing(states(Idle = [start]))]
struct Pump {
    id: String,
}

fn main() {}
