use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event(renam = "hot")]
    overheated: Event<f64>,
}

fn main() {}
