#!/usr/bin/env bash
# Prints how long rustc takes to compile a Thing with 20 properties, 20 actions and 5 events written with the
# macros (dependencies built beforehand, so only the Thing's crate is timed). No target yet: run it to watch
# the number as the macros change.
#
#   scripts/macro-compile-time.sh            # debug build
#   PROFILE=release scripts/macro-compile-time.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
crate="$root/target/macro-compile-time"
profile="${PROFILE:-dev}"
mkdir -p "$crate/src"
cat > "$crate/Cargo.toml" <<TOML
[package]
name = "macro-compile-time"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
thingwire = { path = "$root/runtime" }
serde = { version = "1", features = ["derive"] }
schemars = "1.2"

[workspace]
TOML
{
  echo "use thingwire::prelude::*;"
  echo "#[derive(Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)] pub struct Data { pub a: f64, pub b: Vec<u32> }"
  echo "#[thing] pub struct Big {"
  echo "    id: String,"
  for i in $(seq 1 20); do echo "    /// Property $i"; echo "    #[property(minimum = 0, maximum = 1000, observable)] p$i: f64,"; done
  for i in $(seq 1 5); do echo "    #[event] e$i: Event<Data>,"; done
  echo "}"
  echo "#[thing] impl Big {"
  for i in $(seq 1 20); do
    echo "    /// Action $i"
    echo "    #[action] fn a$i(&mut self, x: f64, #[param(min_items = 1)] v: Vec<u32>, o: Option<String>) -> Result<Data, ThingError> { let _ = o; Ok(Data { a: x + self.p1, b: v }) }"
  done
  echo "}"
  echo "pub fn touch() -> usize { 0 }"
} > "$crate/src/lib.rs"
export CARGO_TARGET_DIR="$root/target"
cargo build --manifest-path "$crate/Cargo.toml" --profile "$profile" --quiet   # dependencies
touch "$crate/src/lib.rs"
start=$(date +%s%N)
cargo build --manifest-path "$crate/Cargo.toml" --profile "$profile" --quiet
end=$(date +%s%N)
lines=$(wc -l < "$crate/src/lib.rs")
ms=$(( (end - start) / 1000000 ))
printf 'compile time of a Thing with 20 properties, 20 actions, 5 events (%s lines, %s profile): %d.%03d s\n' "$lines" "$profile" $((ms / 1000)) $((ms % 1000))
