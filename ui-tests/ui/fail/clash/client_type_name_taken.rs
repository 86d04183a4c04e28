use thingwire::prelude::*;

pub struct SensorClient;

#[thing]
pub struct Sensor {
    id: String,
}

fn main() {}
