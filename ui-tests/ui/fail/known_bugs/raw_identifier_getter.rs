// KNOWN BUG (reported): a raw identifier as a property name makes `#[thing]` panic; this should compile.
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
