//! thingwire's integration tests: one binary, one module per theme.

mod bad_input;
mod client;
mod common;
mod events;
mod faults;
mod fuzz_regressions;
mod http;
mod http_clients;
mod interop;
mod lifecycle;
mod limits;
mod load;
mod macros;
mod malformed;
mod mqtt;
mod ops;
mod panel;
mod persist;
mod python_server;
mod scheduling;
mod security;
mod states;
mod td;
mod tdd_interop;
mod timeouts;
mod vectors;
