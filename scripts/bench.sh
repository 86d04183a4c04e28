#!/usr/bin/env bash
# Issue 7's benchmark: raw ZeroMQ (tmq), thingwire and hololinked 0.4.2 side by side, in one run, on inproc, ipc
# and tcp (loopback only). Prints one table with ratios and the issue's targets marked met/missed, and writes
# target/bench/*.json. See docs/performance.md for what each number means.
#
#   scripts/bench.sh            # the full run, about 5 minutes on a 2-core machine (plus the first build)
#   scripts/bench.sh --quick    # about a minute: same measurements, shorter loops (noisier)
#   scripts/bench.sh --only raw,thingwire --transports ipc     # a subset; --help lists the options
#
# The benchmark creates the hololinked venv at target/hololinked-venv if it is missing (needs python3 with venv
# and PyPI), the same venv the interop tests use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -p thingwire-bench
exec "$target/release/thingwire-bench" "$@"
