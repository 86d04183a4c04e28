"""Receive a Thing's events and property changes through an MQTT broker with hololinked 0.4.2's own MQTT client.

Used by thingwire's MQTT interop test (tests/tests/it/mqtt_clients.rs): `ClientFactory.mqtt(hostname, port,
thing_id)` must find the Thing's retained TD on `<thing>/thing-description`, and its consumers must receive the
events and the observable property changes the server publishes. Needs `hololinked[mqtt]==0.4.2` (aiomqtt, paho).

Usage:
    python hololinked_mqtt_client_check.py --port PORT --thing THING --event EVENT --property PROPERTY [--count N]

The Thing must publish EVENT and changes of the observable PROPERTY on its own (the simulated lab's thermostat does,
from its control loop). Every step prints one line, `ok <step>` or `FAIL <step>: <why>`; the last line is `ALL OK`
(exit 0) when every step passed, else the exit code is 1. Every wait is bounded, and a watchdog ends the process
after --overall-timeout seconds (60 by default).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import sys
import threading


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--thing", required=True)
    parser.add_argument("--event", required=True)
    parser.add_argument("--property", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--overall-timeout", type=float, default=60)
    args = parser.parse_args()

    watchdog = threading.Timer(args.overall_timeout, lambda: (print("FAIL watchdog: overall timeout"), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()
    logging.basicConfig(level=logging.WARNING)

    from hololinked.client import ClientFactory

    failures = 0

    def step(name: str, ok: bool, why: str = "") -> None:
        nonlocal failures
        if ok:
            print(f"ok {name}", flush=True)
        else:
            failures += 1
            print(f"FAIL {name}: {why}", flush=True)

    # aiomqtt's client grabs the running loop when it is made: make the proxy inside one (see the README of the
    # captured hololinked MQTT messages).
    async def make():
        return ClientFactory.mqtt(hostname=args.host, port=args.port, thing_id=args.thing)

    loop = asyncio.new_event_loop()
    try:
        thing = loop.run_until_complete(make())
    except Exception as ex:  # noqa: BLE001
        step("ClientFactory.mqtt finds the retained TD", False, f"{type(ex).__name__}: {ex}")
        print(f"FAILED {failures} steps")
        return 1
    td = thing.td
    step("ClientFactory.mqtt finds the retained TD", isinstance(td, dict) and args.event in td.get("events", {}),
         f"TD {str(td)[:200]}")

    for label, consumer in [
        (f"event {args.event}", getattr(thing, args.event, None)),
        (f"changes of {args.property}", getattr(thing, f"{args.property}_change_event", None)),
    ]:
        if consumer is None:
            step(f"{label}: a consumer on the proxy", False, f"the proxy has no attribute for it: {dir(thing)}")
            continue
        received: queue.Queue = queue.Queue()
        consumer.subscribe(lambda event, received=received: received.put(event.data))
        values = []
        try:
            for _ in range(args.count):
                values.append(received.get(timeout=10))
        except queue.Empty:
            pass
        step(f"{label}: {args.count} arrive, decoded", len(values) == args.count and all(v is not None for v in values),
             f"got {values!r}")
        if values:
            print(f"   {label}: {values[0]!r}", flush=True)
        consumer.unsubscribe()

    if failures:
        print(f"FAILED {failures} steps")
        return 1
    print("ALL OK")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
