// The client decodes event data, so it must also be `Deserialize`.
use schemars::JsonSchema;
use serde::Serialize;
use thingwire::prelude::*;

#[derive(Serialize, JsonSchema)]
pub struct Alarm {
    pub level: u8,
}

#[thing]
pub struct Sensor {
    id: String,
    #[event]
    alarm: Event<Alarm>,
}

fn main() {}
