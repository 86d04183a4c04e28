"""Drive the thingwire lab with hololinked 0.4.2's own Python client.

Start the lab first (it serves `spectrometer`, `stage` and `thermostat` under server id `lab`):

    cargo run -p thingwire-examples --bin lab

then, with a Python that has `hololinked[zmq]==0.4.2` installed (the test suite creates one in
target/hololinked-venv):

    target/hololinked-venv/bin/python examples/python/drive_lab.py
    target/hololinked-venv/bin/python examples/python/drive_lab.py --access-point IPC   # by server id

Every step prints `ok <step>` or `FAIL <step>: <why>`; the last line is `ALL OK` (exit status 0) or
`FAILED n of m steps` (exit status 1). Every wait is bounded: each step runs in a worker thread with its own
deadline (hololinked's client waits forever for a reply that never comes), and a watchdog ends the run after
--overall-timeout seconds. Each Thing is left as it was found, so the script can be run again and again.
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

STEP_TIMEOUT = 15.0  # seconds, default deadline of one step
EVENT_TIMEOUT = 5.0  # seconds to wait for an event
SLOW_JOINER_WAIT = 1.0  # seconds between subscribing and triggering a one-off event (ZeroMQ "slow joiner")


class CheckFailed(Exception):
    """A check did not hold; the message says why."""


def check(condition: bool, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def expect_raises(expected: type[BaseException], call: Callable[[], Any], contains: str | None = None) -> str:
    """Run `call`, require it to raise `expected`; returns the error text."""
    try:
        result = call()
    except expected as ex:
        if contains is not None and contains not in str(ex):
            raise CheckFailed(f"{type(ex).__name__} raised, but {str(ex)!r} lacks {contains!r}") from None
        return str(ex)
    except Exception as ex:  # noqa: BLE001
        raise CheckFailed(f"expected {expected.__name__}, got {type(ex).__name__}: {ex}") from None
    raise CheckFailed(f"expected {expected.__name__}, but the call returned {result!r}")


def wait_for(q: queue.Queue, accept: Callable[[Any], bool], timeout: float = EVENT_TIMEOUT) -> Any:
    """The first item of `q` that `accept` takes, within `timeout` seconds."""
    seen = []
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            item = q.get(timeout=remaining)
        except queue.Empty:
            break
        if accept(item):
            return item
        seen.append(item)
    raise CheckFailed(f"no matching event within {timeout:g} s (received {len(seen)} others: {seen[:3]!r})")


class Runner:
    """Runs steps, each in a daemon thread with a deadline, and counts failures."""

    def __init__(self) -> None:
        self.failures = 0
        self.ran = 0

    def step(self, name: str, func: Callable[[], Any], timeout: float = STEP_TIMEOUT) -> bool:
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
        value = outcome.get("value")
        print(f"ok {name}" + (f" -> {value}" if value is not None else ""), flush=True)
        return True


def start_watchdog(seconds: float) -> None:
    def fire() -> None:
        print(f"FAIL overall: the run did not finish within {seconds:g} s", flush=True)
        os._exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def drive_spectrometer(run: Runner, spec: ObjectProxy) -> None:
    def read_serial() -> str:
        serial = spec.serial_number
        check(serial == "SIM-SPEC-0042", f"serial_number is {serial!r}")
        expect_raises(Exception, lambda: setattr(spec, "serial_number", "X"))
        return serial

    run.step("spectrometer: serial_number is read-only", read_serial)

    def integration_time() -> str:
        spec.integration_time_ms = 20
        check(spec.integration_time_ms == 20, "integration_time_ms did not read back as 20")
        return expect_raises(ValueError, lambda: setattr(spec, "integration_time_ms", 0), contains="at least 1")

    run.step("spectrometer: integration_time_ms = 20; 0 raises ValueError", integration_time)

    def trigger_mode() -> None:
        spec.trigger_mode = "external"
        check(spec.trigger_mode == "external", f"trigger_mode reads {spec.trigger_mode!r}")
        expect_raises(Exception, lambda: setattr(spec, "trigger_mode", "sometimes"))
        spec.trigger_mode = "internal"

    run.step("spectrometer: trigger_mode external/internal; an unknown mode raises", trigger_mode)

    spectrum: list[float] = []

    def acquire() -> str:
        spectrum.extend(spec.acquire())
        check(len(spectrum) == 2048, f"acquire() returned {len(spectrum)} values")
        wavelengths = spec.wavelengths
        peak = max(range(len(spectrum)), key=spectrum.__getitem__)
        check(abs(wavelengths[peak] - 546.1) < 1.0, f"strongest line at {wavelengths[peak]:.1f} nm")
        return f"2048 intensities, strongest line {spectrum[peak]:.0f} counts at {wavelengths[peak]:.1f} nm"

    run.step("spectrometer: acquire() returns a spectrum", acquire)

    def continuous() -> str:
        received: queue.Queue = queue.Queue()
        spec.subscribe_event("spectrum_ready", lambda event: received.put(event.data))
        try:
            spec.start_continuous()
            first = wait_for(received, lambda data: len(data["intensities"]) == 2048)
            second = wait_for(received, lambda data: data["sequence"] > first["sequence"])
            check(spec.continuous_running, "continuous_running is false while spectra stream")
        finally:
            was_running = spec.stop_continuous()
            spec.unsubscribe_event("spectrum_ready")
        check(was_running, "stop_continuous() says it was not running")
        return f"spectra #{first['sequence']} and #{second['sequence']} received"

    run.step("spectrometer: start_continuous() streams spectrum_ready events", continuous)

    def calibrate() -> str:
        check(len(spectrum) == 2048, "no spectrum from the acquire step")
        factor = spec.calibrate(reference=[2.0 * v for v in spectrum])
        check(abs(factor - 2.0) < 0.1, f"correction factor {factor}, expected about 2")
        spec.correction_factor = 1.0
        return f"correction factor {factor:.3f}"

    run.step("spectrometer: calibrate(reference = 2 x spectrum) ~ 2", calibrate)

    def observe() -> None:
        received: queue.Queue = queue.Queue()
        spec.observe_property("integration_time_ms", lambda event: received.put(event.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            spec.integration_time_ms = 100
            wait_for(received, lambda value: value == 100)
        finally:
            spec.unobserve_property("integration_time_ms")

    run.step("spectrometer: observe integration_time_ms, write 100, notified", observe)


def drive_stage(run: Runner, stage: ObjectProxy) -> None:
    def read() -> str:
        limits = stage.limits
        check(limits == {"min": 0.0, "max": 100.0}, f"limits are {limits!r}")
        return f"position {stage.position:.2f} mm, speed {stage.speed} mm/s, limits {limits}"

    run.step("stage: read position, speed, limits", read)

    def refused() -> str:
        expect_raises(ValueError, lambda: setattr(stage, "speed", 100))
        expect_raises(ValueError, lambda: stage.write_property("limits", {"min": 50, "max": 10}))
        return expect_raises(ValueError, lambda: stage.move_to(target=150), contains="outside the limits")

    run.step("stage: speed 100, limits min > max, move_to(150) raise ValueError", refused)

    def move() -> dict:
        stage.speed = 25
        outcome = stage.move_to(target=30)
        check(outcome == {"position": 30.0, "reached": True}, f"move_to(30) returned {outcome!r}")
        check(stage.position == 30.0, f"position reads {stage.position}")
        return outcome

    run.step("stage: move_to(target=30) waits for the move", move)

    def progress() -> str:
        positions: queue.Queue = queue.Queue()
        stage.observe_property("position", lambda event: positions.put(event.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            # noblock: send the call now, collect its reply later (reads go on meanwhile)
            message_id = stage.invoke_action("move_to", target=60, noblock=True)
            time.sleep(0.4)
            midway = stage.position
            check(30.0 < midway < 60.0, f"position {midway} while moving from 30 to 60")
            check(stage.moving, "moving is false while the stage moves")
            outcome = stage.read_reply(message_id, timeout=10)
            check(outcome == {"position": 60.0, "reached": True}, f"move_to(60) returned {outcome!r}")
            wait_for(positions, lambda value: 30.0 < value < 60.0)
        finally:
            stage.unobserve_property("position")
        return f"read {midway:.2f} mm on the way; position change events arrived"

    run.step("stage: position reads and change events show progress", progress)

    def stop() -> str:
        message_id = stage.invoke_action("move_to", target=0, noblock=True)
        time.sleep(0.4)
        # The stage's state machine refuses a second move while it moves (hololinked's StateMachineError,
        # which its client raises as a plain Exception: the type is not a Python builtin).
        check(stage.state == "Moving", f"state reads {stage.state!r} while moving")
        expect_raises(Exception, lambda: stage.move_to(target=10), contains="is in state `Moving`")
        stopped_at = stage.stop()
        check(stage.state == "Idle", f"state reads {stage.state!r} after stop()")
        outcome = stage.read_reply(message_id, timeout=10)
        check(not outcome["reached"], f"move_to(0) returned {outcome!r} after stop()")
        check(0.0 < stopped_at < 60.0, f"stopped at {stopped_at}")
        return f"stopped at {stopped_at:.2f} mm"

    run.step("stage: a second move is refused while moving (StateMachineError); stop() interrupts it", stop)

    def home() -> dict:
        events: queue.Queue = queue.Queue()
        stage.subscribe_event("limit_reached", lambda event: events.put(event.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            outcome = stage.home()
            check(outcome == {"position": 0.0, "reached": True}, f"home() returned {outcome!r}")
            return wait_for(events, lambda data: data == {"limit": "min", "position": 0.0})
        finally:
            stage.unsubscribe_event("limit_reached")
            stage.speed = 10

    run.step("stage: home() emits limit_reached", home)


def drive_thermostat(run: Runner, thermostat: ObjectProxy) -> None:
    def readings() -> dict:
        received: queue.Queue = queue.Queue()
        thermostat.subscribe_event("reading", lambda event: received.put(event.data))
        try:
            return wait_for(received, lambda data: set(data) == {"celsius", "setpoint", "power"})
        finally:
            thermostat.unsubscribe_event("reading")

    run.step("thermostat: reading events arrive", readings)

    def settle() -> str:
        expect_raises(ValueError, lambda: setattr(thermostat, "setpoint", 400))
        thermostat.setpoint = 30
        celsius = thermostat.wait_until_settled(tolerance=0.5, timeout_s=40)
        check(abs(celsius - 30) <= 0.5, f"settled at {celsius}")
        return f"settled at {celsius:.2f} °C"

    run.step("thermostat: setpoint 400 raises; setpoint 30, wait_until_settled", settle, timeout=60)

    def pid() -> dict:
        gains = thermostat.pid
        check(set(gains) == {"kp", "ki", "kd"}, f"pid is {gains!r}")
        expect_raises(ValueError, lambda: thermostat.write_property("pid", {**gains, "kp": -1}))
        thermostat.pid = gains
        return gains

    run.step("thermostat: pid reads and writes as an object; negative gains raise", pid)

    def alarm() -> str:
        alarms: queue.Queue = queue.Queue()
        thermostat.subscribe_event("alarm", lambda event: alarms.put(event.data))
        try:
            time.sleep(SLOW_JOINER_WAIT)
            thermostat.heat_pulse(kelvin=40)
            data = wait_for(alarms, lambda data: "over-temperature" in data["message"])
            check(thermostat.alarm_active, "alarm_active is false after an alarm")
        finally:
            thermostat.unsubscribe_event("alarm")
            thermostat.setpoint = 20
        return data["message"]

    run.step("thermostat: heat_pulse(40) raises the alarm event", alarm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-id", default="lab", help="the lab's server id (default: lab)")
    parser.add_argument(
        "--access-point",
        default="tcp://127.0.0.1:5555",
        help="tcp://host:port, or IPC to find the server by its id (default: tcp://127.0.0.1:5555)",
    )
    parser.add_argument("--overall-timeout", type=float, default=180.0, help="limit for the whole run, seconds")
    parser.add_argument("--log-level", default="WARNING", help="hololinked's log level (logged to stderr)")
    args = parser.parse_args()

    level = getattr(logging, args.log_level.upper(), logging.WARNING)
    setup_logging(log_level=level)
    logging.basicConfig(level=level, handlers=[logging.StreamHandler(sys.stderr)], force=True)
    start_watchdog(args.overall_timeout)

    run = Runner()
    proxies: dict[str, ObjectProxy] = {}

    def connect(thing_id: str, **timeouts: float) -> str:
        # Handshake, then get_thing_description: the proxy is built from the TD. Timeouts are per proxy in
        # hololinked 0.4 (sent with every request; the default execution timeout is 5 s).
        proxies[thing_id] = ClientFactory.zmq(
            server_id=args.server_id, thing_id=thing_id, access_point=args.access_point, **timeouts
        )
        return proxies[thing_id].td["id"]

    for thing_id, execution_timeout in [("spectrometer", 20.0), ("stage", 30.0), ("thermostat", 60.0)]:
        if not run.step(
            f"connect {thing_id}",
            lambda: connect(thing_id, execution_timeout=execution_timeout),  # noqa: B023 (runs before the loop moves on)
            timeout=30,
        ):
            print(f"FAILED: not connected to server `{args.server_id}` at {args.access_point}; is the lab running?")
            return 1

    drive_spectrometer(run, proxies["spectrometer"])
    drive_stage(run, proxies["stage"])
    drive_thermostat(run, proxies["thermostat"])

    if run.failures:
        print(f"FAILED {run.failures} of {run.ran} steps", flush=True)
        return 1
    print("ALL OK", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without interpreter teardown: blocked client threads and the shared zmq context must not delay the exit.
    os._exit(code)
