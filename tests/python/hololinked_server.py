"""A real hololinked 0.4.2 Thing served over ZMQ TCP, used as the Python side of thingwire's interop tests.

Interface (kept identical to what `hololinked_client_check.py` and the Rust interop tests expect):

    property gain    number, default 1.0, bounds 0.1..100 (inclusive), writable, observable
    property serial  string, read-only, always "SN-001"
    property mode    string, writable, default "internal"
    action   add(a: float, b: float) -> float
    action   fail(message: str)            always raises ValueError(message)
    action   sleep(seconds: float) -> None async, sleeps that long (runs concurrently, not in the Thing's queue)
    action   emit(value: int) -> None      pushes event `tick` with data {"value": value}
    event    tick

Usage:
    python hololinked_server.py --port 5601 --server-id interop-server --thing-id interop [--http-port 8095]

With --http-port the same Thing is also served by hololinked's own HTTP server (tornado) on that port of the same
host: `GET http://<host>:<http-port>/<thing-id>/resources/wot-td` gives its TD, and "READY" then also waits until
that answers.

The request ROUTER binds tcp://<host>:<port> (host defaults to 127.0.0.1) and hololinked binds the event PUB socket at
port + 1 on the same host, so both ports must be free. "READY" is printed on stdout (and flushed) only after a raw
ZMQ handshake against our own request socket has been answered, i.e. once the server really serves requests. All
logging goes to stderr, so stdout carries nothing but "READY". The process exits on SIGTERM, SIGINT, or when stdin
is closed (unless --ignore-stdin is given, useful when starting it by hand with stdin at /dev/null).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid

import zmq

from hololinked.core import Event, Thing, action
from hololinked.core.properties import Number, String
from hololinked.logger import setup_logging
from hololinked.server import run, stop
from hololinked.server.zmq import ZMQServer


class InteropThing(Thing):
    """Thing with the fixed interface used by thingwire's interop tests."""

    gain = Number(
        default=1.0,
        bounds=(0.1, 100.0),
        observable=True,
        doc="gain, bounded 0.1..100, observable (publishes <thing_id>/gain_change_event on change)",
    )  # type: float

    serial = String(
        default="SN-001",
        readonly=True,
        doc="serial number, read-only",
    )  # type: str

    mode = String(
        default="internal",
        doc="operating mode, writable",
    )  # type: str

    tick = Event(
        doc="pushed by the emit action",
        schema={"type": "object", "properties": {"value": {"type": "integer"}}},
    )

    @action()
    def add(self, a: float, b: float) -> float:
        """return a + b"""
        return a + b

    @action()
    def fail(self, message: str) -> None:
        """always raise ValueError(message)"""
        raise ValueError(message)

    # synchronous=False: an async action then gets its own AsyncScheduler per call, so a long sleep does not block
    # the Thing's request queue (execution timeouts still apply to it).
    @action(synchronous=False)
    async def sleep(self, seconds: float) -> None:
        """sleep for the given number of seconds"""
        await asyncio.sleep(seconds)

    @action()
    def emit(self, value: int) -> None:
        """push the event tick with data {"value": value}"""
        self.tick.push({"value": value})


def wait_until_serving(server_id: str, endpoint: str, timeout: float) -> bool:
    """Handshake with our own ROUTER over TCP, exactly like a hololinked client does, until it answers.

    `run(..., forked=True)` returns before the request poller is running, so this is how we know it is safe to
    print READY. A ROUTER->ROUTER send is silently dropped until the TCP connection is up, hence the resends.
    """
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.ROUTER)
    client_id = f"ready-probe|{uuid.uuid4().hex[:8]}"
    sock.setsockopt_string(zmq.IDENTITY, client_id)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            header = {
                "messageType": "HANDSHAKE",
                "messageID": str(uuid.uuid4()),
                "senderID": client_id,
                "receiverID": server_id,
            }
            sock.send_multipart([server_id.encode(), b"", json.dumps(header).encode(), b"null", b""])
            if sock.poll(200):
                frames = sock.recv_multipart()
                if len(frames) == 5 and json.loads(frames[2]).get("messageType") == "HANDSHAKE":
                    return True
        return False
    finally:
        sock.close(0)


def wait_until_http(host: str, port: int, thing_id: str, timeout: float) -> bool:
    """Fetch the Thing's TD from hololinked's HTTP server until it answers 200."""
    import urllib.request

    url = f"http://{host}:{port}/{thing_id}/resources/wot-td"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="request port; events are published on port + 1")
    parser.add_argument("--server-id", required=True, help="ZMQ server id (routing id of the ROUTER socket)")
    parser.add_argument("--thing-id", required=True, help="id of the served Thing")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--log-level", default="WARNING", help="hololinked log level, logged to stderr")
    parser.add_argument("--ignore-stdin", action="store_true", help="do not exit when stdin is closed")
    parser.add_argument("--http-port", type=int, default=None, help="also serve the Thing over HTTP on this port")
    args = parser.parse_args()

    # hololinked logs to stdout by default; keep stdout for READY only.
    level = getattr(logging, args.log_level.upper(), logging.WARNING)
    setup_logging(log_level=level)
    logging.basicConfig(level=level, handlers=[logging.StreamHandler(sys.stderr)], force=True)

    thing = InteropThing(id=args.thing_id)
    # An explicit host (not "*") keeps the TD hrefs (used by clients for event subscription) at that host,
    # instead of socket.gethostname().
    access_point = f"tcp://{args.host}:{args.port}"
    server = ZMQServer(id=args.server_id, things=[thing], access_points=[access_point])
    servers = [server]
    if args.http_port is not None:
        from hololinked.server.http import HTTPServer

        servers.append(HTTPServer(port=args.http_port, address=args.host, things=[thing]))
    run(*servers, forked=True, print_welcome_message=False)

    shutdown = threading.Event()

    def on_signal(signum, _frame):
        shutdown.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if not args.ignore_stdin:

        def watch_stdin():
            # returns at EOF, i.e. when the parent closes our stdin (or dies)
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            shutdown.set()

        threading.Thread(target=watch_stdin, daemon=True).start()

    probe_host = "127.0.0.1" if args.host in ("*", "0.0.0.0") else args.host
    if not wait_until_serving(args.server_id, f"tcp://{probe_host}:{args.port}", timeout=30.0):
        print("hololinked_server: server did not answer a handshake within 30 s", file=sys.stderr, flush=True)
        os._exit(2)
    if args.http_port is not None and not wait_until_http(probe_host, args.http_port, args.thing_id, timeout=30.0):
        print("hololinked_server: the HTTP server did not serve the TD within 30 s", file=sys.stderr, flush=True)
        os._exit(2)
    print("READY", flush=True)

    # wait() with a timeout so that signal handlers get to run promptly in the main thread
    while not shutdown.wait(0.5):
        pass

    # Bounded shutdown: ask hololinked to stop, close the sockets, then leave without waiting for daemon threads.
    try:
        stop(wait=False)
        server.exit()
    except Exception as ex:  # noqa: BLE001
        print(f"hololinked_server: error while stopping: {ex!r}", file=sys.stderr, flush=True)
    time.sleep(0.2)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
