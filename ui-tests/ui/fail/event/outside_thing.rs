use thingwire::prelude::*;

#[event]
fn overheated() {}

fn main() {}
