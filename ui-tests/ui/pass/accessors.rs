//! Getter/setter properties: getter only (read-only), getter + setter, with and without `Result`, every
//! property key on a getter, bounds on a setter, and a struct-side field property next to them.

use std::fmt;

use thingwire::prelude::*;

#[derive(Debug)]
pub struct HeaterError;

impl fmt::Display for HeaterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("heater fault")
    }
}

#[thing]
pub struct Heater {
    id: String,
    #[property]
    enabled: bool,
    setpoint: f64,
    name: String,
    power: u8,
}

#[thing]
impl Heater {
    /// Measured temperature (read-only: no setter).
    #[property(unit = "°C")]
    fn temperature(&self) -> f64 {
        self.setpoint - 0.5
    }

    #[property(read_only, title = "Status", description = "What the heater is doing")]
    fn status(&self) -> Result<String, HeaterError> {
        if self.enabled { Ok("heating".into()) } else { Err(HeaterError) }
    }

    #[property(minimum = -20, maximum = 80, observable, unit = "°C", default = 20.0)]
    fn setpoint(&self) -> f64 {
        self.setpoint
    }

    #[property(setter)]
    fn set_setpoint(&mut self, value: f64) {
        self.setpoint = value;
    }

    #[property(min_length = 1, max_length = 16)]
    fn name(&self) -> Result<String, ThingError> {
        Ok(self.name.clone())
    }

    #[property(setter)]
    fn set_name(&mut self, value: String) -> Result<(), ThingError> {
        self.name = value;
        Ok(())
    }

    /// `rename` on a read-only getter.
    #[property(rename = "label")]
    fn front_label(&self) -> String {
        self.name.to_uppercase()
    }

    #[property(exclusive_minimum = 0)]
    fn power(&self) -> u8 {
        self.power
    }

    /// Bounds given on the setter count too.
    #[property(setter, exclusive_maximum = 100, multiple_of = 5)]
    fn set_power(&mut self, value: u8) -> Result<(), HeaterError> {
        self.power = value;
        Ok(())
    }

    #[property(min_items = 0, max_items = 100)]
    fn history(&self) -> Vec<f64> {
        vec![self.setpoint]
    }
}

#[allow(dead_code)]
async fn drive(h: &HeaterClient) -> Result<(), ClientError> {
    h.set_enabled(true).await?;
    let _: f64 = h.temperature().await?;
    let _: String = h.status().await?;
    let _: f64 = h.setpoint().await?;
    h.set_setpoint(21.0).await?;
    let _changes = h.setpoint_changes().await?;
    let _: String = h.name().await?;
    h.set_name("lab".into()).await?;
    let _: String = h.front_label().await?;
    h.set_power(10).await?;
    let _: Vec<f64> = h.history().await?;
    Ok(())
}

fn main() {
    let _ = Heater { id: "h".into(), enabled: false, setpoint: 20.0, name: "h".into(), power: 0 };
    let d = Heater::thing_descriptor();
    assert!(d.property("temperature").is_some_and(|(_, p)| p.read_only));
    assert!(d.property("name").is_some_and(|(_, p)| !p.read_only));
    assert!(d.property("label").is_some_and(|(_, p)| p.read_only));
}
