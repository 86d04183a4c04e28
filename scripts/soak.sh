#!/usr/bin/env bash
# Issue 8's soak test (not run by CI): one thingwire server and 64 clients running mixed operations — reads,
# writes, queued, concurrent and threaded actions, in JSON and msgpack, with random client-side cancellations
# and short server-side timeouts, every reply checked — for 5 minutes, while the server's memory is printed
# every 10 s. Loopback only; it stops by itself.
#
#   scripts/soak.sh                                  # 5 minutes, 64 clients x 500 operations per round
#   scripts/soak.sh --seconds 60 --clients 16 --ops 200 --interval 5
#
# The server and the load are the integration-test binary in its child-process roles (`child_role` in
# tests/tests/it/load.rs), built in release mode; they run as two processes, so the table shows the
# server's memory alone. The load fails (and so does this script) on the first wrong or lost reply.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds=300 clients=64 ops=500 interval=10
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --ops) ops="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

echo "building the test binary (release)…" >&2
bin="$(cargo test --release -p thingwire-tests --test it --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)"
[ -x "$bin" ] || { echo "could not find the test binary (does 'cargo test --release -p thingwire-tests --no-run' build?)" >&2; exit 1; }

work="$(mktemp -d)"
server_pid="" load_pid="" feeder_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null || true
  [ -n "$feeder_pid" ] && kill "$feeder_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

role=(load::child_role --exact --ignored --nocapture --test-threads 1 -q)

# The server serves until its stdin closes or it gets SIGTERM: feed it a stdin that stays open.
mkfifo "$work/stdin"
sleep $((seconds + 600)) > "$work/stdin" &
feeder_pid=$!
THINGWIRE_ROLE=server THINGWIRE_TCP=127.0.0.1:0 THINGWIRE_SERVER_ID=soak \
  "$bin" "${role[@]}" < "$work/stdin" > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q '^READY' "$work/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
address="$(grep -m1 '^ADDRESS ' "$work/server.out" | cut -d' ' -f2)"
[ -n "$address" ] || { echo "the server printed no address" >&2; exit 1; }

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$server_pid/fd" 2>/dev/null | wc -l; }
rounds() { grep -c '^round ' "$work/load.out" 2>/dev/null || true; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

sleep 1
baseline="$(rss)"
echo "server pid $server_pid at $address; load: $clients clients x $ops operations per round for ${seconds}s"
THINGWIRE_ROLE=load THINGWIRE_ADDRESS="$address" THINGWIRE_SECONDS="$seconds" THINGWIRE_CLIENTS="$clients" \
  THINGWIRE_OPS="$ops" "$bin" "${role[@]}" < /dev/null > "$work/load.out" 2> "$work/load.err" &
load_pid=$!
start=$(date +%s)

printf '%8s  %10s  %10s  %8s  %6s  %7s\n' "time" "RSS MiB" "peak MiB" "threads" "fds" "rounds"
printf '%8s  %10s  %10s  %8s  %6s  %7s\n' "0s" "$(mib "$baseline")" "$(mib "$(hwm)")" "$(threads)" "$(fds)" "0"
max="$baseline"
deadline=$((start + seconds + 300))
while kill -0 "$load_pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
  for _ in $(seq 1 $((interval * 10))); do
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.1
  done
  now="$(rss)"
  [ "$now" -gt "$max" ] && max="$now"
  printf '%8s  %10s  %10s  %8s  %6s  %7s\n' "$(( $(date +%s) - start ))s" "$(mib "$now")" "$(mib "$(hwm)")" \
    "$(threads)" "$(fds)" "$(rounds)"
done
if kill -0 "$load_pid" 2>/dev/null; then
  echo "the load did not finish in time" >&2
  exit 1
fi
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""

# Idle: does the memory come back down?
sleep "$interval"
final="$(rss)"
printf '%8s  %10s  %10s  %8s  %6s  %7s   (idle)\n' "$(( $(date +%s) - start ))s" "$(mib "$final")" "$(mib "$(hwm)")" \
  "$(threads)" "$(fds)" "$(rounds)"
echo
grep '^round ' "$work/load.out" | tail -3
total_ops=$(( $(rounds) * clients * ops ))
echo "summary: $(rounds) rounds, $total_ops operations; server RSS baseline $(mib "$baseline") MiB, highest sample" \
  "$(mib "$max") MiB, after the load $(mib "$final") MiB"
if [ "$load_status" -ne 0 ] || ! grep -q '^DONE' "$work/load.out"; then
  echo "the load FAILED (exit $load_status):" >&2
  tail -30 "$work/load.err" >&2
  exit 1
fi
kill -0 "$server_pid" 2>/dev/null || { echo "the server died" >&2; tail -30 "$work/server.err" >&2; exit 1; }
echo "ok: every reply was right, none was lost, the server is still up"
