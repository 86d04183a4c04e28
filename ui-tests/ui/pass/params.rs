//! `#[param(...)]` with every key, `Option` arguments that may be left out, and arguments of several types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Region {
    pub x: u32,
    pub y: u32,
}

#[thing]
pub struct Camera {
    id: String,
}

#[thing]
impl Camera {
    #[action]
    #[allow(clippy::too_many_arguments)]
    fn capture(
        &self,
        #[param(minimum = 1, maximum = 10_000)] exposure_ms: u32,
        #[param(exclusive_minimum = 0, exclusive_maximum = 100, multiple_of = 0.5)] gain: f64,
        #[param(min_items = 1, max_items = 4)] channels: Vec<u8>,
        #[param(min_length = 1, max_length = 64, rename = "file")] file_name: String,
        #[param(default = 1)] frames: u16,
        #[param(minimum = 0, default = 0.0)] delay: f64,
        region: Option<Region>,
        #[param(maximum = 3)] binning: Option<u8>,
        r#type: String,
    ) -> usize {
        let _ = (exposure_ms, gain, frames, delay, region, binning, r#type);
        channels.len() + file_name.len()
    }

    #[action]
    fn nothing_optional(&self, only: Option<bool>) -> bool {
        only.unwrap_or(false)
    }
}

#[allow(dead_code)]
async fn drive(camera: &CameraClient) -> Result<(), ClientError> {
    let _: usize = camera
        .capture(10, 1.5, vec![1], "out.tiff".into(), 1, 0.0, Some(Region { x: 0, y: 0 }), None, "raw".into())
        .await?;
    let _: bool = camera.nothing_optional(None).await?;
    Ok(())
}

fn main() {
    let _ = Camera { id: "cam".into() };
    let d = Camera::thing_descriptor();
    assert!(d.action("capture").is_some_and(|a| a.input.is_some()));
}
