"""Serves Eclipse Thingweb's domus-tdd-api (Flask) for thingwire's tests, on the host and port given.

    python serve_domus.py --host 127.0.0.1 --port 5000

domus is configured through its own `TDD__*` environment variables (`TDD__SPARQLENDPOINT_URL`, ...), which
`tests/tests/it/common/tdd.rs` sets. This script is domus's own `create_app()` plus one change, needed
because the test machines reach no web site:

domus turns a JSON-LD TD into RDF (and back) with jsonld.js, which fetches every `@context` URL over the
internet, except the two that domus substitutes with copies it ships: the TD 1.1 context
(`https://www.w3.org/2022/wot/td/v1.1`, always) and the Discovery context (with `TDD__OVERWRITE_DISCOVERY`).
A TD 1.1 may also name the TD 1.0 context, `https://www.w3.org/2019/wot/td/v1`, as its first entry for
backward compatibility, and thingwire's (like hololinked's) does. Offline, jsonld.js cannot fetch it, the
conversion fails, and domus still answers `201 Created` having stored nothing. So the TD 1.0 URL is given
domus's TD 1.1 copy as well, through domus's own substitution hook. That stands in for the real TD 1.0
context: TD 1.1's context is a superset of TD 1.0's, with the same namespaces, and as the TD 1.1 entry comes
after it in the array, its definitions win wherever both define a term.
"""

import argparse
import json
from importlib.resources import files

import tdd
import tdd.td

TD_1_0_CONTEXT = "https://www.w3.org/2019/wot/td/v1"

_domus_overwrite = tdd.td.overwrite_thing_context


def overwrite_thing_context(ld_content):
    """domus's own substitution, then the TD 1.0 URL too (both when storing and when framing back)."""
    _domus_overwrite(ld_content)
    context = ld_content.get("@context")
    if isinstance(context, list) and TD_1_0_CONTEXT in context:
        with files("tdd").joinpath("data/fixed-ctx.json").open() as stream:
            context[context.index(TD_1_0_CONTEXT)] = json.load(stream)


tdd.td.overwrite_thing_context = overwrite_thing_context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = tdd.create_app()
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
