use schemars::JsonSchema;
use thingwire::prelude::*;

#[derive(JsonSchema)]
pub struct Report {
    pub ok: bool,
}

#[thing]
pub struct Oven {
    id: String,
}

#[thing]
impl Oven {
    #[action]
    fn check(&self) -> Result<Report, ThingError> {
        Ok(Report { ok: true })
    }
}

fn main() {}
