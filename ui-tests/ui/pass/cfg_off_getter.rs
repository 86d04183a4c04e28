// Regression (was a macro bug): the type of a getter whose `#[cfg]` is off is not checked.
use thingwire::prelude::*;

pub struct NotSerializable;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[cfg(any())]
    #[property]
    fn never(&self) -> NotSerializable {
        NotSerializable
    }
}

fn main() {}
