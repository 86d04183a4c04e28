use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property(observable, read_only)]
    level: u32,
    #[event]
    level_changes: Event<u32>,
}

fn main() {}
