use thingwire::prelude::*;

#[thing]
pub struct Oven {
    id: String,
    #[property(persist = "inti")]
    setpoint: f64,
    #[property(persist = "always")]
    pid: f64,
}

#[thing]
impl Oven {}

fn main() {}
