use thingwire::prelude::*;

#[thing]
pub struct Oven {
    id: String,
    #[property(persist = true)]
    setpoint: f64,
}

#[thing]
impl Oven {}

fn main() {}
