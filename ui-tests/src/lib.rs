//! Compile-pass and compile-fail tests of thingwire's `#[thing]`, `#[property]`, `#[action]` and `#[event]`
//! macros, run by `tests/ui.rs` with trybuild:
//!
//! ```sh
//! cargo test -p thingwire-ui-tests                          # check every case against its snapshot
//! TRYBUILD=overwrite cargo test -p thingwire-ui-tests       # re-record the snapshots, then read them
//! ```
//!
//! - `ui/pass/*.rs`: full programs that must compile and run; together they use every attribute option.
//! - `ui/fail/<category>/<what_is_wrong>.rs` + `.stderr`: one mistake per file and the diagnostic it gets,
//!   by category: `thing/`, `property/`, `action/`, `event/`, `types/` (trait bounds on user types) and
//!   `clash/` (names the generated code would take twice).
//! - `ui/fail/known_bugs/`: code that should compile but does not yet, each file saying why. When a fix lands,
//!   trybuild reports the case as compiling: move it to `ui/pass/` and delete its `.stderr`.
//!
//! The snapshots are recorded with rustc 1.95, and the test only runs on that compiler.
