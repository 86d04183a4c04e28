use schemars::JsonSchema;
use thingwire::prelude::*;

#[derive(JsonSchema)]
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
