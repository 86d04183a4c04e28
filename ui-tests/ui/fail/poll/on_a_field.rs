use thingwire::prelude::*;

#[thing]
struct Probe {
    id: String,
    #[property(observable, poll = "1s")]
    level: f64,
}

fn main() {}
