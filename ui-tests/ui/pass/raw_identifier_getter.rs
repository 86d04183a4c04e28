// Regression (was a macro bug): raw identifiers as getter names.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    fn r#type(&self) -> String {
        "probe".into()
    }
}

fn main() {}
