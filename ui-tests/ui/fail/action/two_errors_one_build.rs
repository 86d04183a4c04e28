// Two unrelated mistakes in one impl block: both are reported by the same build.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
}

#[thing]
impl Sensor {
    #[action(threaded)]
    async fn calibrate(&self) {}

    #[action]
    fn greet(&self, name: &str) {
        let _ = name;
    }
}

fn main() {}
