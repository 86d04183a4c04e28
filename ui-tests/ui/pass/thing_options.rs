//! Every `#[thing(...)]` key on the struct except `crate`: `title`, `description`, a fixed `id` (so the
//! struct needs no id field) and a renamed `client`.

use thingwire::prelude::*;

#[thing(title = "Vacuum gauge", description = "Reads the chamber pressure", id = "gauge", client = "GaugeRemote")]
pub struct Gauge {
    #[property(read_only)]
    pressure: f64,
}

#[thing]
impl Gauge {
    #[action]
    fn zero(&mut self) {
        self.pressure = 0.0;
    }
}

#[allow(dead_code)]
async fn drive() -> Result<(), ClientError> {
    let gauge: GaugeRemote = GaugeRemote::connect("inproc://lab", "gauge").await?;
    let _: f64 = gauge.pressure().await?;
    gauge.zero().await?;
    Ok(())
}

fn main() {
    let gauge = Gauge { pressure: 1e-6 };
    assert_eq!(Thing::thing_id(&gauge), "gauge");
    let d = Gauge::thing_descriptor();
    assert_eq!((d.title, d.description), ("Vacuum gauge", Some("Reads the chamber pressure")));
    let _ = gauge.pressure;
}
