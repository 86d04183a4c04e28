//! Simulated instruments for thingwire's examples.
//!
//! [`Thermostat`] implements [`thingwire::Thing`] by hand, the way the `#[thing]` macro will generate it:
//! a static descriptor, property reads and writes with bounds, queued and concurrent actions, and an event.

mod thermostat;

pub use thermostat::{Reading, Thermostat};
