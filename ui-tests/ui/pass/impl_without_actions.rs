//! A `#[thing]` impl block with no actions (only a getter), and another Thing whose `#[thing]` impl block is
//! empty.

use thingwire::prelude::*;

#[thing]
pub struct Thermometer {
    id: String,
    raw: i32,
}

#[thing]
impl Thermometer {
    #[property(unit = "°C")]
    fn celsius(&self) -> f64 {
        f64::from(self.raw) / 100.0
    }
}

#[thing]
pub struct Empty {
    id: String,
}

#[thing]
impl Empty {}

#[allow(dead_code)]
async fn drive(t: &ThermometerClient, e: &EmptyClient) -> Result<(), ClientError> {
    let _: f64 = t.celsius().await?;
    let _ = e.handle().thing_id();
    Ok(())
}

fn main() {
    let _ = Thermometer { id: "t".into(), raw: 2150 };
    let _ = Empty { id: "e".into() };
    assert!(Empty::thing_descriptor().actions.is_empty());
}
