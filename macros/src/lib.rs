//! Procedural macros for [thingwire](https://docs.rs/thingwire).
//!
//! The attribute macros `#[thing]`, `#[property]`, `#[action]` and `#[event]` are being built; until they
//! land, Things implement `thingwire::Thing` by hand (see the runtime crate's documentation).
