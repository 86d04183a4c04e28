// KNOWN BUG (reported): `Self` in an action's types reaches generated code outside the impl block; this
// should compile (the client already replaces `Self`).
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
