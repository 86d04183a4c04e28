#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the captured hololinked 0.4.2 frames.

    python3 fuzz/seed_corpus.py            # from the repository root

Reads tests/vectors/hololinked-0.4.2-capture.json and writes, in the input formats described in
fuzz/src/harness.rs:

* corpus/headers/: every captured header frame (requests, replies, events);
* corpus/server/:  every captured client->server request as the frames a DEALER sends (frames 1-4), once as
                   captured and once with senderID set to the fuzz DEALER's id, so its replies come back;
* corpus/args/:    every captured request payload (and frame 4) against every action and property of
                   FuzzScope, in JSON, and re-encoded as msgpack;
* corpus/http/:    every route of FuzzScope over HTTP with each method, the typed payloads below as JSON
                   and msgpack bodies, hololinked's query parameters, and tests/fuzz-regressions/http/.

Only the standard library is used (the msgpack encoder below covers JSON's data model).
"""

import hashlib
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "tests" / "vectors" / "hololinked-0.4.2-capture.json"
CORPUS = ROOT / "fuzz" / "corpus"

# Must match fuzz/src/harness.rs and fuzz/src/thing.rs.
FRAME_SEPARATOR = b"\xff|\xff"
CLIENT_ID = "fuzz-client"
ACTIONS = ["acquire", "set_offset", "scalars", "collections", "configure", "switch", "raw", "raw_count",
           "anything", "settle", "peek", "checksum", "reset", "fail", "nope"]
PROPERTIES = ["gain", "channels", "status", "settings", "mode", "serial", "trim", "nope"]
JSON, MSGPACK = 0, 1
HTTP_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD"]
EVENTS = ["data_ready"]
QUERIES = [b"", b"oneway=true", b"noblock=true", b"executionTimeout=0.5&invokationTimeout=1",
           b"fetchExecutionLogs=true", b"names=gain&names=mode", b"messageID=0123abcd&timeout=0.1", b"ms=3"]


def msgpack(v):
    """A minimal msgpack encoder for JSON values."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, list):
        return b"\xdd" + struct.pack(">I", len(v)) + b"".join(msgpack(x) for x in v)
    if isinstance(v, dict):
        return b"\xdf" + struct.pack(">I", len(v)) + b"".join(msgpack(k) + msgpack(x) for k, x in v.items())
    raise TypeError(type(v))


def write(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def frames_of(exchange):
    return [bytes.fromhex(f["hex"]) for f in exchange["frames"]]


def is_request(exchange):
    d = exchange["direction"]
    return d.startswith("client->server") or d == "send"


def main():
    exchanges = json.loads(CAPTURE.read_text())
    payloads = set()
    for ex in exchanges:
        frames = frames_of(ex)
        # Header frames: index 2 of 5-frame messages, index 1 of DEALER (4-frame) messages.
        header_index = 2 if len(frames) == 5 else 1
        if len(frames) > header_index:
            write("headers", frames[header_index])
        if not is_request(ex):
            continue
        body = frames[1:] if len(frames) == 5 else frames  # what a DEALER sends
        write("server", FRAME_SEPARATOR.join(body))
        try:
            header = json.loads(body[1])
            header["senderID"] = CLIENT_ID
            rewritten = [body[0], json.dumps(header).encode()] + body[2:]
            write("server", FRAME_SEPARATOR.join(rewritten))
        except (ValueError, IndexError):
            pass
        if len(body) >= 3:
            payloads.add((body[2], body[3] if len(body) > 3 else b""))
    # A few typed payloads the capture does not have.
    extra = [
        {"flag": True, "small": 7, "signed": -3, "unsigned": 9, "text": "t", "letter": "x"},
        {"list": [1.5], "map": {"a": 1}, "pair": [1, "b"], "nested": [[1, 2]]},
        {"settings": {"averages": 4, "label": "l", "window": {"hann": {"width": 0.5}}}},
        {"mode": "single"},
        {"data": [1, 2, 3], "repeat": 2},
        {"value": {"deep": [1, {"x": None}]}},
        {"ms": 10},
        {"index": 1},
        {"__args__": [3, 50]},
        {"averages": 1, "window": {"custom": [0.1, 0.2]}},
        [2, 10],
        1.5,
        "internal",
        None,
    ]
    for v in extra:
        payloads.add((json.dumps(v).encode(), b""))
    payloads.add((b"null", b"\x00\x01\x02"))
    n = len(ACTIONS) + len(PROPERTIES)
    for payload, pre in sorted(payloads):
        for target in range(n):
            write("args", bytes([JSON, target, len(pre)]) + pre + payload)
            try:
                value = json.loads(payload)
            except ValueError:
                continue
            write("args", bytes([MSGPACK, target, len(pre)]) + pre + msgpack(value))
    http_seeds(payloads)
    for target in sorted(CORPUS.iterdir()):
        print(f"{target.name}: {len(list(target.iterdir()))} seeds")


def http(method, path, query=b"", content_type=b"", body=b"", flags=0):
    """An `http` input (fuzz/src/harness.rs): method byte, then path, query, content type, body."""
    selector = HTTP_METHODS.index(method) | flags
    return bytes([selector]) + FRAME_SEPARATOR.join([path, query, content_type, body])


def http_seeds(payloads):
    thing = b"/scope"
    routes = [thing + b"/" + n.encode() for n in ACTIONS + PROPERTIES + EVENTS]
    routes += [thing + b"/properties", thing + b"/resources/wot-td", thing + b"/resources/wot-tm",
               thing + b"/gain/change-event", b"/liveness", b"/readiness", b"/nope/gain"]
    for route in routes:
        for method in HTTP_METHODS:
            write("http", http(method, route))
        for query in QUERIES:
            write("http", http("GET", route, query))
            write("http", http("POST", route, query, b"application/json", b"{}"))
    bodies = sorted({p for p, _ in payloads})[:40]
    for route in routes[: len(ACTIONS) + len(PROPERTIES)] + [thing + b"/properties"]:
        for body in bodies:
            write("http", http("PUT", route, b"", b"application/json", body))
            write("http", http("POST", route, b"", b"application/json", body, flags=0x08))
            try:
                write("http", http("PATCH", route, b"", b"application/msgpack", msgpack(json.loads(body))))
            except ValueError:
                pass
        write("http", http("POST", route, b"", b"application/octet-stream", bytes(range(64))))
    regressions = ROOT / "tests" / "fuzz-regressions" / "http"
    for saved in sorted(regressions.iterdir()):
        write("http", saved.read_bytes())


if __name__ == "__main__":
    main()
