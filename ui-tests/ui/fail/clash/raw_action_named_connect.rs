// A raw identifier makes the same client method as the plain one: the action `r#connect` would give the
// client a second `connect`.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn r#connect(&self, address: String) {
        let _ = address;
    }
}

fn main() {}
