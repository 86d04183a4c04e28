// Regression (was a macro bug): action arguments named `this` compile.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn compare(&self, this: u32) -> bool {
        this > 0
    }
}

fn main() {}
