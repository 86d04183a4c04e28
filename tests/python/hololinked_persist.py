"""hololinked 0.4.2's side of the persisted-property interop test: a Thing of the same class and id as the
Rust test's `Oven`, sharing one SQLite file with it.

    python hololinked_persist.py read  <file.db>   # prints the values restored from the file, as JSON
    python hololinked_persist.py write <file.db>   # sets values, which hololinked stores in the file
"""

import json
import os
import sys
import tempfile

from hololinked.core import Thing
from hololinked.core.properties import ClassSelector, Number, String


class Oven(Thing):
    setpoint = Number(default=20.0, bounds=(0, 500), db_persist=True)
    pid = ClassSelector(class_=dict, default={"p": 1.0, "i": 0.0, "d": 0.0}, db_persist=True)
    calibration = Number(default=1.0, db_init=True)
    serial = String(default="unset", db_init=True)
    last_recipe = String(default="", db_commit=True)
    plain = Number(default=0)
    power = Number(default=0.0, db_persist=True)


def main() -> None:
    mode, db_file = sys.argv[1], sys.argv[2]
    config = os.path.join(tempfile.mkdtemp(), "db.json")
    with open(config, "w") as f:
        json.dump({"provider": "sqlite", "file": db_file}, f)
    oven = Oven(id="oven", db_config_file=config)
    if mode == "read":
        names = ["setpoint", "pid", "calibration", "serial", "last_recipe", "power"]
        print(json.dumps({name: getattr(oven, name) for name in names}))
    elif mode == "write":
        oven.setpoint = 77.5
        oven.pid = {"p": 3.0, "i": 0.25, "d": 0.0}
        oven.power = 4.0
        oven.last_recipe = "soup"
        print(json.dumps({"ok": True}))
    else:
        raise SystemExit(f"unknown mode {mode!r}: use read or write")


if __name__ == "__main__":
    main()
