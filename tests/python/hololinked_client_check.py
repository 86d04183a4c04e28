"""Drive a Thing with hololinked 0.4.2's own ZMQ client (ClientFactory.zmq / ObjectProxy) and check every step.

Used by thingwire's interop tests to prove that a (Rust) server is usable from the real Python client. The Thing
must have this interface (see hololinked_server.py for the reference implementation in Python):

    property gain    number, default 1.0, minimum 0.1, maximum 100, writable, observable
    property serial  string, read-only, "SN-001"
    property mode    string, writable, default "internal"
    action   add(a: float, b: float) -> float
    action   fail(message: str)             raises ValueError(message)
    action   sleep(seconds: float) -> None  sleeps that long
    action   emit(value: int) -> None       publishes event tick with data {"value": value}
    event    tick

Usage:
    python hololinked_client_check.py --server-id ID --thing-id THING --access-point tcp://127.0.0.1:PORT

Every step prints one line, `ok <step>` or `FAIL <step>: <why>`. The last line is `ALL OK` (exit 0) when every step
passed; otherwise the exit code is 1. Every wait is bounded: each step runs in a worker thread with its own
deadline (the hololinked client itself waits forever for a reply), and a watchdog ends the process after
--overall-timeout seconds (60 by default).
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

from hololinked.client import ClientFactory, ObjectProxy
from hololinked.logger import setup_logging


STEP_TIMEOUT = 10.0  # seconds, default deadline of one step
EVENT_TIMEOUT = 5.0  # seconds to wait for an event or a property change notification
SLOW_JOINER_WAIT = 1.0  # seconds between subscribing and triggering, so the SUB socket is connected


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
            # The thread stays blocked (hololinked has no client-side reply timeout); it is a daemon, so it
            # cannot keep the process alive.
            self.failures += 1
            print(f"FAIL {name}: no result within {timeout:g} s", flush=True)
            return False
        if "error" in outcome:
            self.failures += 1
            print(f"FAIL {name}: {outcome['error']}", flush=True)
            if "traceback" in outcome:
                print(outcome["traceback"], file=sys.stderr, flush=True)
            return False
        print(f"ok {name}", flush=True)
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


def wait_for(q: queue.Queue, accept: Callable[[Any], bool], timeout: float) -> tuple[bool, list[Any]]:
    """Take items from q until one is accepted or `timeout` passes. Returns (accepted, everything seen)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, seen
        try:
            item = q.get(timeout=remaining)
        except queue.Empty:
            return False, seen
        seen.append(item)
        if accept(item):
            return True, seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-id", required=True, help="ZMQ server id (routing id of the server's ROUTER)")
    parser.add_argument("--thing-id", required=True, help="id of the Thing to drive")
    parser.add_argument("--access-point", required=True, help="e.g. tcp://127.0.0.1:5555")
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

    def connect(key: str, **kwargs: Any) -> None:
        # handshake (resent every 500 ms) + get_thing_description; the proxy is built from the returned TD
        proxies[key] = ClientFactory.zmq(
            server_id=args.server_id, thing_id=args.thing_id, access_point=args.access_point, **kwargs
        )

    # hololinked would retry the handshake for 60 s; we give up earlier
    if not run.step("connect", lambda: connect("main"), timeout=20.0):
        print("FAIL remaining steps: not connected", flush=True)
        return 1
    thing = proxies["main"]

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

    def write_gain_out_of_bounds() -> None:
        expect_raises(ValueError, lambda: thing.write_property("gain", 1000))
        value = thing.read_property("gain")
        check(value == 2.5, f"gain changed to {value!r} by a rejected write")

    run.step("write gain 1000 raises ValueError", write_gain_out_of_bounds)

    def read_serial() -> None:
        value = thing.read_property("serial")
        check(value == "SN-001", f"serial is {value!r}, expected 'SN-001'")

    run.step("read serial == SN-001", read_serial)

    def write_serial() -> None:
        # the Python server answers ValueError("Read-only parameter cannot be set/modified..."); any error will do
        expect_raises(Exception, lambda: thing.write_property("serial", "SN-999"))
        value = thing.read_property("serial")
        check(value == "SN-001", f"serial changed to {value!r} by a rejected write")

    run.step("write serial raises", write_serial)

    # ---- actions ----
    def add_keyword() -> None:
        value = thing.add(a=1, b=2)  # payload {"a": 1, "b": 2}
        check(value == 3, f"add(a=1, b=2) returned {value!r}")

    run.step("add(a=1, b=2) == 3", add_keyword)

    def add_positional() -> None:
        value = thing.add(1, 2)  # payload {"__args__": [1, 2]}
        check(value == 3, f"add(1, 2) returned {value!r}")

    run.step("add(1, 2) == 3 (positional, __args__)", add_positional)

    def fail_raises() -> None:
        expect_raises(ValueError, lambda: thing.fail(message="boom"), contains="boom")

    run.step("fail(message='boom') raises ValueError('boom')", fail_raises)

    def sleep_times_out() -> None:
        # Timeouts are not per-call arguments in hololinked 0.4.2: they are given to ClientFactory.zmq and copied
        # into every consumed property/action, which send them as serverExecutionContext
        # {"invokation_timeout": ..., "execution_timeout": ...}. So build a second proxy with execution_timeout=0.3.
        connect("short", execution_timeout=0.3)
        start = time.monotonic()
        expect_raises(TimeoutError, lambda: proxies["short"].sleep(seconds=2))
        elapsed = time.monotonic() - start
        # the TIMEOUT reply must come from the server's execution timer, not after the action completed
        check(elapsed < 1.8, f"TimeoutError only after {elapsed:.2f} s, expected about 0.3 s")

    run.step("sleep(seconds=2) with execution timeout 0.3 s raises TimeoutError", sleep_times_out, timeout=15.0)

    # ---- several properties at once (hidden actions _get_properties / _set_properties) ----
    def read_multiple() -> None:
        values = thing.read_multiple_properties(["gain", "mode"])
        check(isinstance(values, dict), f"returned {type(values).__name__} {values!r}, expected a dict")
        check(values.get("gain") == 2.5, f"gain in {values!r}, expected 2.5")
        check(values.get("mode") == "internal", f"mode in {values!r}, expected 'internal'")

    run.step("read_multiple_properties(['gain', 'mode'])", read_multiple)

    def write_multiple() -> None:
        thing.write_multiple_properties(gain=3.0, mode="external")
        gain, mode = thing.read_property("gain"), thing.read_property("mode")
        check(gain == 3.0, f"gain read back as {gain!r}, expected 3.0")
        check(mode == "external", f"mode read back as {mode!r}, expected 'external'")

    run.step("write_multiple_properties(gain=3.0, mode='external')", write_multiple)

    # ---- events: callbacks get an SSE object whose .data is the decoded payload ----
    def event_tick() -> None:
        received: queue.Queue = queue.Queue()
        thing.subscribe_event("tick", lambda sse: received.put(sse.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            thing.emit(value=7)
            ok, seen = wait_for(received, lambda data: data == {"value": 7}, EVENT_TIMEOUT)
            check(ok, f"no tick {{'value': 7}} within {EVENT_TIMEOUT:g} s (received {seen!r})")
        finally:
            thing.unsubscribe_event("tick")

    run.step("subscribe tick, emit(value=7), receive {'value': 7}", event_tick, timeout=STEP_TIMEOUT + 5)

    def observe_gain() -> None:
        received: queue.Queue = queue.Queue()
        thing.observe_property("gain", lambda sse: received.put(sse.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            thing.write_property("gain", 4.0)
            ok, seen = wait_for(received, lambda data: data == 4.0, EVENT_TIMEOUT)
            check(ok, f"no change notification with 4.0 within {EVENT_TIMEOUT:g} s (received {seen!r})")
        finally:
            thing.unobserve_property("gain")

    run.step("observe gain, write 4.0, notified with 4.0", observe_gain, timeout=STEP_TIMEOUT + 5)

    if run.failures:
        print(f"FAILED {run.failures} of {run.ran} steps", flush=True)
        return 1
    print("ALL OK", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # leave without running interpreter teardown: blocked client/listener threads and the shared zmq context
    # must not be able to delay or hang the exit
    os._exit(code)
