use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

fn main() {}
