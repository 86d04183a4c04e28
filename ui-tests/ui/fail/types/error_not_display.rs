use thingwire::prelude::*;

#[derive(Debug)]
pub struct OvenError;

#[thing]
pub struct Oven {
    id: String,
}

#[thing]
impl Oven {
    #[action]
    fn check(&self) -> Result<u8, OvenError> {
        Err(OvenError)
    }
}

fn main() {}
