use schemars::JsonSchema;
use thingwire::prelude::*;

#[derive(JsonSchema)]
pub struct Config {
    pub gain: f64,
}

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[property]
    fn config(&self) -> Config {
        Config { gain: 1.0 }
    }
}

fn main() {}
