use thingwire::prelude::*;

#[thing]
struct Probe {
    id: String,
}

#[thing]
impl Probe {
    #[property(poll = "1s", abs_change = 0.5)]
    fn temperature(&self) -> f64 {
        20.0
    }
}

fn main() {}
