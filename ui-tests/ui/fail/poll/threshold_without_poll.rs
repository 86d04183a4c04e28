use thingwire::prelude::*;

#[thing]
struct Probe {
    id: String,
}

#[thing]
impl Probe {
    #[property(observable, rel_change = 0.1)]
    fn temperature(&self) -> f64 {
        20.0
    }
}

fn main() {}
