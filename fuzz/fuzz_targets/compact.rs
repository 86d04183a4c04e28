//! (e) Compact header decoding: `CompactRequest::decode` and `CompactReply::decode` on arbitrary bytes, with
//! a round trip of whatever decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thingwire_fuzz::harness::decode_compact(data);
});
