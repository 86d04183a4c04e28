//! thingwire's integration tests: one binary, one module per theme.

mod client;
mod common;
mod events;
mod interop;
mod macros;
mod malformed;
mod ops;
mod python_server;
mod scheduling;
mod td;
mod vectors;
