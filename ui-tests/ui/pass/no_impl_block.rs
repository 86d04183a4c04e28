//! A Thing with only the struct side: no `#[thing]` impl block at all.

use thingwire::prelude::*;

#[thing]
pub struct Lamp {
    id: String,
    #[property]
    on: bool,
}

fn main() {
    let lamp = Lamp { id: "lamp".into(), on: false };
    let _ = (Thing::thing_id(&lamp), lamp.on);
    let _ = Lamp::thing_descriptor();
}
