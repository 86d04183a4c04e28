use schemars::JsonSchema;
use serde::Serialize;
use thingwire::prelude::*;

#[derive(Clone, Serialize, JsonSchema)]
pub struct Config {
    pub gain: f64,
}

#[thing]
pub struct Sensor {
    id: String,
    config: Config,
}

#[thing]
impl Sensor {
    #[property]
    fn config(&self) -> Config {
        self.config.clone()
    }

    #[property(setter)]
    fn set_config(&mut self, value: Config) {
        self.config = value;
    }
}

fn main() {}
