use thingwire::prelude::*;

#[thing]
struct Pump {
    id: String,
    #[state_machine]
    state: String,
}

fn main() {}
