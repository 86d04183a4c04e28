// KNOWN BUG (reported): a raw identifier as a property name makes `#[thing]` panic; this should compile.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    r#type: String,
}

fn main() {}
