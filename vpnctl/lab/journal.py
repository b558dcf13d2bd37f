"""What the lab made, written down before it is made, so ``lab down`` can undo a crashed ``up``.

An append-only JSON-lines file: a SIGKILL between two steps leaves every earlier line intact
and at most a half-written last line, which ``entries`` skips. Each line is written and
fsynced before the thing it names is created.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, kind: str, value: str) -> None:
        line = json.dumps({"kind": kind, "value": value}) + "\n"
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    def entries(self) -> list[tuple[str, str]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the half-written last line of a killed run
            found.append((str(entry["kind"]), str(entry["value"])))
        return found
