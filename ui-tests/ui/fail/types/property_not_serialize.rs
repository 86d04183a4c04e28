use schemars::JsonSchema;
use serde::Deserialize;
use thingwire::prelude::*;

#[derive(Deserialize, JsonSchema)]
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
