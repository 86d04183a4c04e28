// Regression (was a macro bug): `io::Result<T>`-style aliases are fallible returns.
// `std::io::Result<T>` (one type argument) is not recognised as a fallible return.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn read_file(&self) -> std::io::Result<u8> {
        Ok(1)
    }
}

fn main() {}
