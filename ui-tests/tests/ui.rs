//! Runs the compile-pass and compile-fail cases under `ui/`.
//!
//! Compiler messages change between Rust releases, so the snapshots are pinned to the compiler they were
//! recorded with (rustc 1.95); on any other compiler this test is not built.

#[rustversion::stable(1.95)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*/*.rs");
}
