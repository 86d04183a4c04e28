"""Drive a Thing over HTTP with hololinked 0.4.2's own HTTP client (ClientFactory.http / ObjectProxy), step by step.

Used by thingwire's HTTP interop tests to prove that a server is usable from the real Python client: hololinked's
own HTTP server (tests/python/hololinked_server.py --http-port) today, thingwire's HTTP binding later. The Thing
must have the interface of hololinked_server.py:

    property gain    number, default 1.0, minimum 0.1, maximum 100, writable, observable
    property serial  string, read-only, "SN-001"
    property mode    string, writable, default "internal"
    action   add(a: float, b: float) -> float
    action   fail(message: str)             raises ValueError(message)
    action   emit(value: int) -> None       pushes event tick with data {"value": value}
    event    tick

Usage:
    python hololinked_http_client_check.py --td-url http://127.0.0.1:PORT/THING/resources/wot-td --errors status

--errors says how the server answers a refused request, and so what the client must raise:
    hololinked  a 2xx with the body {"exception": {...}} (hololinked's own HTTP server): the client raises the typed
                Python exception (ValueError)
    status      a proper status code (400 for a refused value): the client raises httpx.HTTPStatusError

The URL must carry no query: the client appends `?ignore_errors=...&use_localhost=...` itself.

Every step prints one line, `ok <step>` or `FAIL <step>: <why>`. The last line is `ALL OK` (exit 0) when every step
passed; otherwise the exit code is 1. Every wait is bounded: each step runs in a worker thread with its own
deadline, and a watchdog ends the process after --overall-timeout seconds (60 by default). Events are awaited by
triggering them again every 200 ms until one arrives (a fresh event stream may miss what happens while it opens),
never by sleeping first.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import sys
import threading
import time
import traceback

from collections.abc import Callable
from typing import Any

import httpx

from hololinked.client import ClientFactory, ObjectProxy
from hololinked.logger import setup_logging


STEP_TIMEOUT = 10.0  # seconds, default deadline of one step
EVENT_TIMEOUT = 10.0  # seconds to wait for an event or a property change notification
RETRIGGER = 0.2  # seconds between two triggers while waiting for an event


class CheckFailed(Exception):
    """A step's check did not hold; the message says why."""


def check(condition: bool, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def expect_raises(
    expected: type[BaseException], call: Callable[[], Any], contains: str | None = None
) -> BaseException:
    """Run `call`, require it to raise `expected` (or a subclass), and optionally require `contains` in its text."""
    try:
        result = call()
    except expected as ex:
        if contains is not None and contains not in str(ex):
            raise CheckFailed(f"{type(ex).__name__} raised, but its text {str(ex)!r} lacks {contains!r}") from None
        return ex
    except Exception as ex:  # noqa: BLE001
        raise CheckFailed(f"expected {expected.__name__}, got {type(ex).__name__}: {ex}") from None
    raise CheckFailed(f"expected {expected.__name__}, but the call returned {result!r}")


class Runner:
    """Runs steps with a deadline each and records the outcome."""

    def __init__(self) -> None:
        self.failures = 0
        self.ran = 0

    def step(self, name: str, func: Callable[[], Any], timeout: float = STEP_TIMEOUT) -> bool:
        """Run func() in a daemon thread; print `ok name` or `FAIL name: why`. Returns True on success."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = func()
            except CheckFailed as ex:
                outcome["error"] = str(ex)
            except BaseException as ex:  # noqa: BLE001
                outcome["error"] = f"unexpected {type(ex).__name__}: {ex}"
                outcome["traceback"] = traceback.format_exc()

        worker = threading.Thread(target=target, name=f"step:{name}", daemon=True)
        worker.start()
        worker.join(timeout)
        self.ran += 1
        if worker.is_alive():
            self.failures += 1
            print(f"FAIL {name}: no result within {timeout:g} s", flush=True)
            return False
        if "error" in outcome:
            self.failures += 1
            print(f"FAIL {name}: {outcome['error']}", flush=True)
            if "traceback" in outcome:
                print(outcome["traceback"], file=sys.stderr, flush=True)
            return False
        note = outcome.get("value")
        print(f"ok {name}" + (f" ({note})" if isinstance(note, str) and note else ""), flush=True)
        return True


def start_watchdog(seconds: float) -> None:
    """End the whole process (exit 1) if the run takes longer than `seconds`."""

    def fire() -> None:
        print(f"FAIL overall: run did not finish within {seconds:g} s", flush=True)
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def receive_while_triggering(
    received: queue.Queue, trigger: Callable[[int], Any], accept: Callable[[Any], bool]
) -> tuple[Any, int]:
    """Call trigger(n) every RETRIGGER seconds until an item accepted by `accept` arrives in `received`.

    Returns (the accepted item, how many triggers it took); fails the step after EVENT_TIMEOUT.
    """
    seen = []
    deadline = time.monotonic() + EVENT_TIMEOUT
    n = 0
    while time.monotonic() < deadline:
        trigger(n)
        n += 1
        until = min(deadline, time.monotonic() + RETRIGGER)
        while (remaining := until - time.monotonic()) > 0:
            try:
                item = received.get(timeout=remaining)
            except queue.Empty:
                break
            seen.append(item)
            if accept(item):
                return item, n
    raise CheckFailed(f"nothing accepted within {EVENT_TIMEOUT:g} s after {n} trigger(s); received {seen!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--td-url", required=True, help="URL of the Thing Description, e.g. http://h:p/thing/resources/wot-td")
    parser.add_argument(
        "--errors",
        required=True,
        choices=["hololinked", "status"],
        help="how the server answers a refused request: hololinked (2xx + exception body) or status (4xx)",
    )
    parser.add_argument("--overall-timeout", type=float, default=60.0, help="hard limit for the whole run, seconds")
    parser.add_argument("--log-level", default="WARNING", help="hololinked log level, logged to stderr")
    args = parser.parse_args()

    # hololinked logs (structlog -> stdlib logging) to stdout by default; keep stdout for the step lines.
    level = getattr(logging, args.log_level.upper(), logging.WARNING)
    setup_logging(log_level=level)
    logging.basicConfig(level=level, handlers=[logging.StreamHandler(sys.stderr)], force=True)

    start_watchdog(args.overall_timeout)
    run = Runner()
    proxies: dict[str, ObjectProxy] = {}

    def connect() -> str:
        # GET <td-url>?ignore_errors=false&use_localhost=<true for a loopback URL>; the proxy is built from the TD
        proxies["main"] = ClientFactory.http(url=args.td_url)
        td = proxies["main"].TD
        return f"id {td.get('id')!r}, {len(td.get('properties', {}))} properties, {len(td.get('actions', {}))} actions"

    if not run.step("connect (fetch the TD, build the proxy)", connect, timeout=20.0):
        print("FAIL remaining steps: not connected", flush=True)
        return 1
    thing = proxies["main"]

    def refused(call: Callable[[], Any], text: str | None = None) -> str:
        """The call must fail the way the server answers refused requests (--errors)."""
        if args.errors == "hololinked":
            ex = expect_raises(ValueError, call, contains=text)
            return f"ValueError: {str(ex)[:80]}"
        ex = expect_raises(httpx.HTTPStatusError, call)
        status = ex.response.status_code
        return f"HTTP {status}"

    # ---- restore the defaults so that the script can be rerun against the same server ----
    def restore() -> None:
        thing.write_property("gain", 1.0)
        thing.write_property("mode", "internal")

    run.step("restore gain=1.0 mode=internal", restore)

    # ---- properties ----
    def read_gain_default() -> None:
        value = thing.read_property("gain")
        check(value == 1.0, f"gain is {value!r}, expected 1.0")

    run.step("read gain == 1.0", read_gain_default)

    def write_gain() -> None:
        thing.write_property("gain", 2.5)
        value = thing.read_property("gain")
        check(value == 2.5, f"gain read back as {value!r}, expected 2.5")

    run.step("write gain 2.5, read 2.5", write_gain)

    def write_mode() -> None:
        thing.mode = "external"  # the attribute form: ConsumedThingProperty.set
        value = thing.mode
        check(value == "external", f"mode read back as {value!r}, expected 'external'")
        thing.write_property("mode", "internal")

    run.step("write mode 'external' (attribute), read it back", write_mode)

    def write_gain_out_of_bounds() -> str:
        how = refused(lambda: thing.write_property("gain", 1000))
        if args.errors == "status":
            check(how == "HTTP 400", f"refused with {how}, expected HTTP 400")
        value = thing.read_property("gain")
        check(value == 2.5, f"gain changed to {value!r} by a refused write")
        return how

    expected = "ValueError" if args.errors == "hololinked" else "httpx.HTTPStatusError 400"
    run.step(f"write gain 1000 raises {expected}, gain unchanged", write_gain_out_of_bounds)

    def read_serial() -> None:
        value = thing.read_property("serial")
        check(value == "SN-001", f"serial is {value!r}, expected 'SN-001'")

    run.step("read serial == SN-001", read_serial)

    def serial_read_only() -> None:
        # hololinked's client refuses before sending when the TD says readOnly: this checks the TD, not the server
        expect_raises(NotImplementedError, lambda: thing.write_property("serial", "SN-999"))

    run.step("the TD marks serial read-only (the client refuses to write it)", serial_read_only)

    # ---- actions ----
    def add_keyword() -> None:
        value = thing.add(a=1, b=2)  # POST {"a": 1, "b": 2}
        check(value == 3, f"add(a=1, b=2) returned {value!r}")

    run.step("add(a=1, b=2) == 3", add_keyword)

    def add_positional() -> None:
        value = thing.invoke_action("add", 2, 3)  # POST {"__args__": [2, 3]}
        check(value == 5, f"add(2, 3) returned {value!r}")

    run.step("add(2, 3) == 5 (positional, body {'__args__': [2, 3]})", add_positional)

    def fail_raises() -> str:
        return refused(lambda: thing.fail(message="boom"), text="boom")

    run.step(f"fail(message='boom') raises {'ValueError' if args.errors == 'hololinked' else 'httpx.HTTPStatusError'}", fail_raises)

    def add_noblock() -> str:
        message_id = thing.invoke_action("add", a=4, b=5, noblock=True)  # POST ?noblock=true -> X-Message-ID
        check(isinstance(message_id, str) and message_id, f"noblock returned {message_id!r}, expected a message id")
        value = thing.read_reply(message_id, timeout=5)  # GET <action href>?messageID=<id>&timeout=5
        check(value == 9, f"read_reply returned {value!r}, expected 9")
        return f"message id {message_id}"

    run.step("add(a=4, b=5, noblock=True), read_reply == 9", add_noblock)

    # ---- events: callbacks get an SSE object whose .data is the decoded payload ----
    def event_tick() -> str:
        received: queue.Queue = queue.Queue()
        thing.subscribe_event("tick", lambda sse: received.put(sse.data))
        try:
            _, n = receive_while_triggering(
                received, lambda n: thing.emit(value=n), lambda data: isinstance(data, dict) and "value" in data
            )
            # the stream is up: a oneway emit must arrive too, which proves the oneway call ran
            result = thing.invoke_action("emit", value=1234, oneway=True)  # POST ?oneway=true, no reply body
            check(result is None, f"oneway returned {result!r}")
            deadline = time.monotonic() + EVENT_TIMEOUT
            seen = []
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    data = received.get(timeout=remaining)
                except queue.Empty:
                    break
                seen.append(data)
                if data == {"value": 1234}:
                    return f"first tick after {n} emit(s), then the oneway one"
            raise CheckFailed(f"no tick {{'value': 1234}} from the oneway emit within {EVENT_TIMEOUT:g} s ({seen!r})")
        finally:
            thing.unsubscribe_event("tick")

    run.step("subscribe tick, emit until one arrives, then emit(value=1234, oneway=True) arrives", event_tick, timeout=2 * EVENT_TIMEOUT + 5)

    def observe_gain() -> str:
        received: queue.Queue = queue.Queue()
        thing.observe_property("gain", lambda sse: received.put(sse.data))
        writes = [3.0, 4.0]
        try:
            value, n = receive_while_triggering(
                received, lambda n: thing.write_property("gain", writes[n % 2]), lambda data: data in writes
            )
            return f"notified with {value!r} after {n} write(s)"
        finally:
            thing.unobserve_property("gain")

    run.step("observe gain, write until notified with a written value", observe_gain, timeout=EVENT_TIMEOUT + 5)

    if run.failures:
        print(f"FAILED {run.failures} of {run.ran} steps", flush=True)
        return 1
    print("ALL OK", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # leave without running interpreter teardown: blocked client/listener threads must not delay or hang the exit
    os._exit(code)
