//! Every `#[property(...)]` key on a field, doc comments as descriptions, and `#[id]` on a field that is not
//! called `id`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub enum Shape {
    Sine,
    Square,
}

/// A signal generator.
#[thing]
pub struct Generator {
    #[id]
    serial: String,
    /// Output frequency
    #[property(minimum = 0, maximum = 1e6, observable, unit = "Hz", default = 1000.0)]
    frequency: f64,
    #[property(exclusive_minimum = 0, exclusive_maximum = 10, multiple_of = 0.5)]
    amplitude: f32,
    #[property(minimum = -5, maximum = 5)]
    offset: Option<i32>,
    #[property(min_items = 1, max_items = 8)]
    channels: Vec<u8>,
    #[property(min_length = 1, max_length = 32, rename = "label", title = "Front-panel label")]
    front_label: String,
    #[property(read_only, description = "Firmware version, set at the factory")]
    firmware: String,
    #[property(max_items = 16)]
    presets: BTreeMap<String, f64>,
    #[property(min_items = 2, max_items = 2)]
    window: [u16; 2],
    #[property(default = Shape::Sine)]
    shape: Shape,
    /// Unexposed state: no attribute.
    calibrated: bool,
}

#[allow(dead_code)]
async fn drive(client: &GeneratorClient) -> Result<(), ClientError> {
    let _: f64 = client.frequency().await?;
    client.set_frequency(50.0).await?;
    let _changes = client.frequency_changes().await?;
    client.set_amplitude(1.5).await?;
    let _: Option<i32> = client.offset().await?;
    client.set_channels(vec![1, 2]).await?;
    // `rename` changes the wire name, not the Rust name.
    client.set_front_label("A".to_owned()).await?;
    let _: String = client.firmware().await?;
    client.set_presets(BTreeMap::new()).await?;
    client.set_window([0, 10]).await?;
    client.set_shape(Shape::Square).await?;
    Ok(())
}

fn main() {
    let g = Generator {
        serial: "SG-1".into(),
        frequency: 1000.0,
        amplitude: 1.0,
        offset: None,
        channels: vec![1],
        front_label: "A".into(),
        firmware: "1.0".into(),
        presets: BTreeMap::new(),
        window: [0, 1],
        shape: Shape::Sine,
        calibrated: true,
    };
    assert_eq!(Thing::thing_id(&g), "SG-1");
    assert!(Generator::thing_descriptor().property("label").is_some());
    let _ = (&g.frequency, &g.amplitude, &g.offset, &g.channels, &g.front_label, &g.firmware);
    let _ = (&g.presets, &g.window, &g.shape, g.calibrated);
}
