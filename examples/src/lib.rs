//! Simulated instruments for thingwire's examples.
//!
//! [`Thermostat`] implements [`thingwire::Thing`] by hand, the way the `#[thing]` macro will generate it:
//! a static descriptor, property reads and writes with bounds, queued and concurrent actions, and an event.

mod thermostat;

pub use thermostat::{Reading, Thermostat};

use thingwire::Thing;
use thingwire::td::{ThingDescription, tcp_addresses};

/// The server id the examples serve under.
pub const SERVER_ID: &str = "lab";

/// The examples' default TCP address (events on port + 1).
pub const TCP_HOST: &str = "127.0.0.1";

/// The examples' default TCP port.
pub const TCP_PORT: u16 = 5555;

/// Every example Thing's Thing Description (TCP forms at the default address) and Thing Model, as the
/// pretty-printed files `td/<thing>.json` and `td/<thing>.tm.json` hold them. A TD is a pure function of the
/// type and the addresses: `cargo run -p thingwire-examples --bin emit-td` rewrites the files, and a test
/// fails when they drift from the code.
pub fn thing_description_files() -> Vec<(String, String)> {
    let addresses = tcp_addresses(TCP_HOST, TCP_PORT);
    let things = [("thermostat", Thermostat::new("thermostat").descriptor())];
    let mut files = Vec::new();
    for (id, descriptor) in things {
        let td = ThingDescription::new(descriptor, SERVER_ID, id).served_on(&addresses);
        files.push((format!("{id}.json"), pretty(&td.to_json())));
        files.push((format!("{id}.tm.json"), pretty(&td.to_thing_model())));
    }
    files
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
