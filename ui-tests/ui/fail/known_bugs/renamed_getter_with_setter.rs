// KNOWN BUG (reported): a setter after a getter with `rename` is not paired with it; this should compile.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    name: String,
}

#[thing]
impl Sensor {
    #[property(rename = "label")]
    fn name(&self) -> String {
        self.name.clone()
    }

    #[property(setter)]
    fn set_name(&mut self, value: String) {
        self.name = value;
    }
}

fn main() {}
