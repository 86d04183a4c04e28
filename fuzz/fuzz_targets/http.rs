//! (d) HTTP request decoding: a request (method, path, query, content type, body) from each input, sent on
//! a kept-alive connection to a real server serving `FuzzScope` over HTTP; every answer is checked (an
//! error carries hololinked's error object) and a normal read is answered afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thingwire_fuzz::with_http_server(data);
});
