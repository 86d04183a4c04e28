//! The `thingwire` command (being built).

fn main() {}
