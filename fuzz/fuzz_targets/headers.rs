//! (a) Header decoding: `RequestHeader::decode`, `salvage_ids`, `ResponseHeader::decode`,
//! `EventHeader::decode` and the payload codecs, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thingwire_fuzz::harness::decode_headers(data);
});
