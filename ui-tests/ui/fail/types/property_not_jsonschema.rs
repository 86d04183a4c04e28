use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[derive(Serialize, Deserialize)]
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
