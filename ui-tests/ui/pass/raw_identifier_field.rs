// Regression (was a macro bug): raw identifiers (`r#type`) as property names.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    r#type: String,
}

fn main() {}
