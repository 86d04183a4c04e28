use thingwire::prelude::*;

#[action]
fn calibrate() {}

fn main() {}
