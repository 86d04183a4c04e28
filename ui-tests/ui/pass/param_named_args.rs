// Regression (was a macro bug): action arguments named `args` compile (generated code uses `__`-prefixed names).
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn run(&self, args: Vec<String>) -> usize {
        args.len()
    }
}

fn main() {}
