// KNOWN BUG (reported): an action argument named `args` shadows a name in the generated dispatch; this should
// compile.
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
