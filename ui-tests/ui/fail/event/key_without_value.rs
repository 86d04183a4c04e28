use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event(title)]
    overheated: Event<f64>,
}

fn main() {}
