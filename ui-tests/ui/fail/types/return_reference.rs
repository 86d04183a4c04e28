use thingwire::prelude::*;

#[thing]
pub struct Oven {
    id: String,
}

#[thing]
impl Oven {
    #[action]
    fn name(&self) -> &str {
        &self.id
    }
}

fn main() {}
