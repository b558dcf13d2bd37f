"""The journal of a ``keys rotate``: which tables it drained, and from which gateway, durably.

A rotation moves route tables off a tunnel's two gateways before it gives that tunnel new
keys, and puts them back after. If it dies in between (killed, a lost connection, a gateway
that never restarts), the next rotation must put each table back where it was *before the
first one began*, not where it is now (drained), and must never move a table the rotation did
not move: a failover that happened meanwhile stays. So before its first route move a rotation
writes here, per tunnel, each table it is about to drain and the gateway it is on; the entry
goes once the tables are back, the whole item once the link is done.

It is one item in the apply lock's table (``vpnctl-locks``, DNS account, home region), beside
the lock item but under its own key, so ``vpnctl unlock`` (which removes the lock item) leaves
it. ``observe`` reads it, so apply and status see an unfinished rotation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vpnctl.aws import live as lv
from vpnctl.aws.applylock import KEY, TABLE
from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.door.dynamodb import DynamoDb
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions

Tables = Mapping[str, str]  # route table -> the gateway it was on before the rotation


def key(topology: str) -> str:
    """The item's key: a topology name never holds ``#``, so it cannot be another's lock."""
    return f"{topology}#key-rotation"


@dataclass(frozen=True)
class Entry:
    link: str
    since: str
    tunnels: Mapping[str, Tables]  # tunnel -> tables it drained

    def summary(self) -> lv.Rotation:
        return lv.Rotation(self.link, self.since, tuple(sorted(self.tunnels)))


@dataclass
class Journal:
    sessions: Sessions
    account: str
    topology: str
    retry: Retry = field(default_factory=Retry)
    clock: Callable[[], float] = time.time
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def region(self) -> str:
        return self.sessions.partition(self.account).global_region

    def table(self) -> DynamoDb:
        door = Door(self.wire or BotoWire(self.sessions, self.retry))
        what = f"key rotation journal of {self.topology} ({TABLE})"
        return door.at(self.account, self.region, what).dynamodb

    def read(self) -> Entry | None:
        """None when there is none (or no table: nothing ever locked, nothing rotated)."""
        item = self.table().get_item(TABLE, {KEY: {"S": key(self.topology)}}, no_table_ok=True)
        return None if not item else _entry(item)

    def write(self, entry: Entry) -> None:
        item = {
            KEY: {"S": key(self.topology)},
            "link": {"S": entry.link},
            "since": {"S": entry.since},
            "tunnels": {"S": json.dumps(entry.tunnels, sort_keys=True)},
        }
        self.table().put_item(TABLE, item, refused=())

    def begin(self, link: str) -> Entry:
        """The entry of ``link``'s rotation: the one left unfinished, or a new one."""
        found = self.read()
        if found is not None:
            return found
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))
        entry = Entry(link, since, {})
        self.write(entry)
        return entry

    def drained(self, entry: Entry, tunnel: str, tables: Tables) -> Entry:
        """Record ``tables`` (merged into what was recorded for ``tunnel`` before, which wins)."""
        merged = {**tables, **entry.tunnels.get(tunnel, {})}
        updated = Entry(entry.link, entry.since, {**entry.tunnels, tunnel: merged})
        self.write(updated)
        return updated

    def restored(self, entry: Entry, tunnel: str) -> Entry:
        updated = Entry(
            entry.link, entry.since, {t: v for t, v in entry.tunnels.items() if t != tunnel}
        )
        self.write(updated)
        return updated

    def finish(self) -> None:
        self.table().delete_item(TABLE, {KEY: {"S": key(self.topology)}})


def _entry(item: Mapping[str, Any]) -> Entry:
    tunnels = json.loads(item["tunnels"]["S"])
    return Entry(
        item["link"]["S"],
        item["since"]["S"],
        {str(t): {str(k): str(v) for k, v in tables.items()} for t, tables in tunnels.items()},
    )
