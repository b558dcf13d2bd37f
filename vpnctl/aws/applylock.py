"""One apply at a time per topology: a DynamoDB item written only if absent.

The item lives in the DNS account (the one account every topology has), in table
``vpnctl-locks`` of its partition's home region, keyed by topology name. It records who holds
it and since when, so a lock left by a killed apply can be seen and broken on purpose
(``vpnctl unlock``). Release deletes the item only if it is still ours.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from vpnctl.aws import names
from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.door.dynamodb import DynamoDb
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.errors import LockConflict

TABLE = names.LOCK_TABLE
KEY = "topology"


def owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


@dataclass(frozen=True)
class Holder:
    owner: str
    since: str
    run: str


@dataclass
class ApplyLock:
    sessions: Sessions
    account: str
    topology: str
    retry: Retry = field(default_factory=Retry)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    wait_s: float = 0.0  # how long to wait for another apply to finish; 0 fails at once
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def region(self) -> str:
        return self.sessions.partition(self.account).global_region

    def table(self, what: str = "") -> DynamoDb:
        door = Door(self.wire or BotoWire(self.sessions, self.retry))
        return door.at(self.account, self.region, what or f"apply lock of {self.topology}").dynamodb

    @contextmanager
    def held(self, who: str | None = None) -> Iterator[Holder]:
        holder = self.acquire(who or owner())
        try:
            yield holder
        finally:
            self.release(holder)

    def acquire(self, who: str) -> Holder:
        self.ensure_table()
        holder = Holder(
            who, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())), uuid.uuid4().hex
        )
        deadline = self.clock() + self.wait_s
        while not self.try_put(holder):
            current = self.holder()
            if self.clock() >= deadline:
                raise LockConflict(self.conflict(current))
            self.sleep(min(5.0, max(0.5, deadline - self.clock())))
        return holder

    def conflict(self, current: Holder | None) -> str:
        who = f"{current.owner} since {current.since}" if current else "another apply"
        return (
            f"topology {self.topology} is being applied by {who} (lock in account "
            f"{self.account}, {self.region}, table {TABLE}); wait for it, or if that apply is "
            f"dead, run `vpnctl unlock` on the topology"
        )

    def try_put(self, holder: Holder) -> bool:
        item = {
            KEY: {"S": self.topology},
            "owner": {"S": holder.owner},
            "since": {"S": holder.since},
            "run": {"S": holder.run},
        }
        return self.table().put_item(TABLE, item, f"attribute_not_exists({KEY})") is None

    def holder(self) -> Holder | None:
        item = self.table().get_item(TABLE, {KEY: {"S": self.topology}})
        if not item:
            return None
        return Holder(item["owner"]["S"], item["since"]["S"], item["run"]["S"])

    def release(self, holder: Holder) -> None:
        """Only if it is still ours (a broken lock taken by another apply stays theirs)."""
        key = {KEY: {"S": self.topology}}
        self.table().delete_item(TABLE, key, "run = :run", {":run": {"S": holder.run}})

    def break_lock(self) -> Holder | None:
        """``vpnctl unlock``: remove whoever holds it; returns who that was."""
        current = self.holder() if self.table_exists() else None
        if current is not None:
            self.table().delete_item(TABLE, {KEY: {"S": self.topology}})
        return current

    def table_exists(self) -> bool:
        return self.table(f"table {TABLE}").table_status(TABLE) is not None

    def ensure_table(self) -> None:
        if self.table_exists():
            return
        self.table(f"table {TABLE}").create_table(TABLE, KEY, {names.PURPOSE_TAG: "apply lock"})
        self.wait_active()

    def wait_active(self) -> None:
        for _ in range(60):
            if self.table(f"table {TABLE}").table_status(TABLE) == "ACTIVE":
                return
            self.sleep(2.0)
