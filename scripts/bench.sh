#!/usr/bin/env bash
# Issue 7's benchmark: raw ZeroMQ (tmq), thingwire and hololinked 0.4.2 side by side, in one run, on inproc, ipc
# and tcp (loopback only). Prints one table with ratios and the issue's targets marked met/missed, and writes
# target/bench/*.json. See docs/performance.md for what each number means.
#
#   scripts/bench.sh            # the full run, about 5 minutes on a 2-core machine (plus the first build)
#   scripts/bench.sh --quick    # about a minute: same measurements, shorter loops (noisier)
#   scripts/bench.sh --only raw,thingwire --transports ipc     # a subset; --help lists the options
#
# Creates the hololinked venv at target/hololinked-venv if it is missing (needs python3 with venv and PyPI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/hololinked-venv"
requirement='hololinked[zmq]==0.4.2'

if ! "$venv/bin/python" -c 'import hololinked, sys; sys.exit(hololinked.__version__ != "0.4.2")' 2>/dev/null; then
  echo "creating $venv with $requirement (once)…" >&2
  tmp="$venv.tmp-$$"
  rm -rf "$tmp"
  "${THINGWIRE_PYTHON:-python3}" -m venv "$tmp"
  "$tmp/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  # the stamp the interop tests look for, so they reuse this venv
  printf '%s' "$requirement" > "$tmp/.thingwire-requirement"
  rm -rf "$venv"
  mv "$tmp" "$venv"
fi

cargo build --release -p thingwire-bench
exec "$target/release/thingwire-bench" --venv "$venv" "$@"
