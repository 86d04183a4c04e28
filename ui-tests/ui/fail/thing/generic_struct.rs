use thingwire::prelude::*;

#[thing]
pub struct Sensor<T> {
    id: String,
    #[property]
    value: T,
}

fn main() {}
