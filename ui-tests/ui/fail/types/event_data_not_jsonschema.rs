use serde::Serialize;
use thingwire::prelude::*;

#[derive(Serialize)]
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
