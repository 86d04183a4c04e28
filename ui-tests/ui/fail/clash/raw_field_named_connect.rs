// A raw identifier makes the same client method as the plain one: the field `r#connect` would give the
// client a second `connect`.
use thingwire::prelude::*;

#[thing]
pub struct Sensor {
    id: String,
    #[property]
    r#connect: bool,
}

fn main() {}
