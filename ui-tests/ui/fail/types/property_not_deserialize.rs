use schemars::JsonSchema;
use serde::Serialize;
use thingwire::prelude::*;

#[derive(Serialize, JsonSchema)]
pub struct Config {
    pub gain: f64,
}

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    config: Config,
}

fn main() {}
