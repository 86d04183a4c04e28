//! (c) Macro-generated argument and property decoding: `Thing::invoke` (and its concurrent and threaded
//! siblings, and `write_property`) on a `#[thing]` Thing with arbitrary payload bytes, content types and
//! frame-4 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thingwire_fuzz::harness::invoke_args(data);
});
