// KNOWN BUG (reported): `#[thingwire::action]` spelled with its path inside a `#[thing]` impl block is
// not recognised; this should compile.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[thingwire::action]
    fn calibrate(&self) {}
}

fn main() {}
