use thingwire::prelude::*;

#[thing]
struct Probe {
    id: String,
}

#[thing]
impl Probe {
    #[property(observable, poll = "often", abs_change = -1.0)]
    fn temperature(&self) -> f64 {
        20.0
    }
}

fn main() {}
