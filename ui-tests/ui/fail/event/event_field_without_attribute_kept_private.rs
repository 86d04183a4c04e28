// An `Event<T>` field without `#[event]` is private state, so the client has no method for it.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    overheated: Event<f64>,
}

#[allow(dead_code)]
async fn drive(s: SensorClient) {
    let _ = s.overheated();
}

fn main() {}
