use thingwire::prelude::*;

#[thing(id = "t")]
pub struct Tuple(String, u32);

fn main() {}
