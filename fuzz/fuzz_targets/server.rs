//! (b) Whole-message handling: arbitrary 1..=8-frame messages from a DEALER to a real server serving a
//! `#[thing]` Thing over inproc; after each one a normal request must still be answered, and every reply
//! must be a well-formed hololinked reply.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thingwire_fuzz::with_server(data);
});
