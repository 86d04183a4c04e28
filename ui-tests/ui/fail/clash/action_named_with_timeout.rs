use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action]
    fn with_timeout(&self, seconds: f64) {
        let _ = seconds;
    }
}

fn main() {}
