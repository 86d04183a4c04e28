use thingwire::prelude::*;

#[thing]
pub struct Oven {
    id: String,
    temperature: f64,
}

#[thing]
impl Oven {
    #[property(persist)]
    fn temperature(&self) -> f64 {
        self.temperature
    }
}

fn main() {}
