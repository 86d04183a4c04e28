// A read-only property is only serialized by the server, but the generated client decodes it.
use schemars::JsonSchema;
use serde::Serialize;
use thingwire::prelude::*;

#[derive(Serialize, JsonSchema)]
pub struct Status {
    pub ok: bool,
}

#[thing]
pub struct Sensor {
    id: String,
    #[property(read_only)]
    status: Status,
}

fn main() {}
