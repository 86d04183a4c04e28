// Regression (was a macro bug): `Self` in action signatures.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thingwire::prelude::*;

#[thing]
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct Preset {
    id: String,
}

#[thing]
impl Preset {
    #[action]
    fn copy(&self) -> Self {
        self.clone()
    }
}

fn main() {}
