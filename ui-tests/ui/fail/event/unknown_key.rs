use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event(observable)]
    overheated: Event<f64>,
}

fn main() {}
