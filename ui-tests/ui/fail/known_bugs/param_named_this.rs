// KNOWN BUG (reported): an action argument named `this` shadows a name in the generated dispatch; this should
// compile.
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
