// Regression (was a macro bug): a renamed getter pairs with its `set_` setter.
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
