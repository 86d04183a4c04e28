"""Time hololinked 0.4.2's own ZMQ client (ClientFactory.zmq / ObjectProxy) against a server.

Used by thingwire's benchmark (`thingwire-bench`, see docs/performance.md) to drive both hololinked's Python
server (tests/python/hololinked_server.py) and thingwire's Rust server with the very same client code. The Thing
must have a property `gain` (number, 0.1..100, writable) and an action `add(a, b) -> a + b`.

Measured, each for at most --seconds and --max-ops operations after --warmup unmeasured ones:

    read      sequential `thing.read_property("gain")`
    write     sequential `thing.write_property("gain", 2.0)`
    add       sequential `thing.add(a=1.0, b=2.0)`
    read_64   `read_property("gain", noblock=True)` keeping --window requests in flight on the one connection,
              each reply collected in order with `read_reply(message_id)` (hololinked's way to pipeline)

Prints one JSON object on stdout: {"connect_s": ..., "read": {"ops", "secs", "ops_per_sec", "p50_us", "p99_us",
"mean_us", "max_us"}, ...}. Logs go to stderr. A watchdog ends the process (exit 3) after --overall-timeout
seconds, since hololinked's client waits forever for a reply.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import math
import os
import sys
import threading
import time

from hololinked.client import ClientFactory
from hololinked.logger import setup_logging


def summary(samples_ns: list[int], secs: float) -> dict:
    n = len(samples_ns)
    if n == 0:
        return {"ops": 0, "secs": secs, "ops_per_sec": 0.0, "p50_us": 0.0, "p99_us": 0.0, "mean_us": 0.0, "max_us": 0.0}
    s = sorted(samples_ns)

    def rank(q: float) -> float:
        i = min(max(math.ceil(q * n), 1), n) - 1
        return s[i] / 1000.0

    return {
        "ops": n,
        "secs": secs,
        "ops_per_sec": n / secs if secs > 0 else 0.0,
        "p50_us": rank(0.50),
        "p99_us": rank(0.99),
        "mean_us": sum(s) / n / 1000.0,
        "max_us": s[-1] / 1000.0,
    }


def sequential(call, seconds: float, max_ops: int, warmup: int) -> dict:
    for _ in range(warmup):
        call()
    samples = []
    clock = time.perf_counter_ns
    start = clock()
    deadline = start + int(seconds * 1e9)
    while len(samples) < max_ops and clock() < deadline:
        t = clock()
        call()
        samples.append(clock() - t)
    return summary(samples, (clock() - start) / 1e9)


def pipelined(thing, seconds: float, max_ops: int, warmup: int, window: int) -> dict:
    for _ in range(warmup):
        thing.read_reply(thing.read_property("gain", noblock=True), timeout=None)
    samples = []
    pending: collections.deque = collections.deque()
    clock = time.perf_counter_ns
    start = clock()
    deadline = start + int(seconds * 1e9)
    sent = 0
    while True:
        while len(pending) < window and sent < max_ops and clock() < deadline:
            pending.append((thing.read_property("gain", noblock=True), clock()))
            sent += 1
        if not pending:
            break
        message_id, t = pending.popleft()
        value = thing.read_reply(message_id, timeout=None)
        samples.append(clock() - t)
        if not (0.1 <= value <= 100):
            raise RuntimeError(f"gain read as {value!r}")
    return summary(samples, (clock() - start) / 1e9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-id", required=True)
    parser.add_argument("--thing-id", required=True)
    parser.add_argument("--access-point", required=True, help="e.g. tcp://127.0.0.1:5555")
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget of each measurement")
    parser.add_argument("--max-ops", type=int, default=20000, help="operation budget of each measurement")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--window", type=int, default=64, help="requests in flight for read_64")
    parser.add_argument("--overall-timeout", type=float, default=120.0)
    args = parser.parse_args()

    setup_logging(log_level=logging.WARNING)
    logging.basicConfig(level=logging.WARNING, handlers=[logging.StreamHandler(sys.stderr)], force=True)

    def fire() -> None:
        print(f"holo_client_bench: did not finish within {args.overall_timeout:g} s", file=sys.stderr, flush=True)
        os._exit(3)

    watchdog = threading.Timer(args.overall_timeout, fire)
    watchdog.daemon = True
    watchdog.start()

    t = time.perf_counter()
    thing = ClientFactory.zmq(server_id=args.server_id, thing_id=args.thing_id, access_point=args.access_point)
    results: dict = {"connect_s": time.perf_counter() - t}

    budget = (args.seconds, args.max_ops, args.warmup)
    results["read"] = sequential(lambda: thing.read_property("gain"), *budget)
    results["write"] = sequential(lambda: thing.write_property("gain", 2.0), *budget)
    results["add"] = sequential(lambda: thing.add(a=1.0, b=2.0), *budget)
    results["read_64"] = pipelined(thing, *budget, args.window)

    print(json.dumps(results), flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # leave without interpreter teardown: the client's sockets and threads must not delay the exit
    os._exit(0)


if __name__ == "__main__":
    main()
