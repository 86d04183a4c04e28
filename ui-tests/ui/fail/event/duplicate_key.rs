use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[event(title = "Hot", title = "Overheated")]
    overheated: Event<f64>,
}

fn main() {}
