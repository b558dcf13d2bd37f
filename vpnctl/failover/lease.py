"""Two hooks at once never work on the same topology: a lease, written only if free or expired.

It lives beside the apply lock (table ``vpnctl-locks`` in each account's partition home
region), under its own key ``<topology>#failover``, so apply and the hook do not wait for each
other (apply leaves routes to live gateways alone). Unlike the apply lock it expires: a Lambda
killed at its timeout must not wedge every later failover. The hook takes it only when there is
something to change, then reads again under it, so the second of two racing hooks decides on
what the first did. The table is made on first use if apply has not made it in this account.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from vpnctl.aws.applylock import KEY, TABLE, ApplyLock, owner
from vpnctl.aws.door import BotoWire, Door, Wire
from vpnctl.aws.door.dynamodb import CONDITION_FAILED, NO_TABLE, DynamoDb
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Sessions
from vpnctl.errors import LockConflict


@dataclass(frozen=True)
class Lease:
    sessions: Sessions
    account: str
    topology: str
    retry: Retry
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    ttl_s: float = 90.0  # longer than the function's timeout
    wait_s: float = 30.0
    wire: Wire | None = None  # AWS in memory (``fakedoor``), else boto3 through ``sessions``

    @property
    def key(self) -> str:
        return f"{self.topology}#failover"

    @property
    def region(self) -> str:
        return self.sessions.partition(self.account).global_region

    def table(self) -> DynamoDb:
        door = Door(self.wire or BotoWire(self.sessions, self.retry))
        return door.at(self.account, self.region, f"failover lease of {self.topology}").dynamodb

    @contextmanager
    def held(self) -> Iterator[str]:
        run = self.acquire()
        try:
            yield run
        finally:
            self.release(run)

    def acquire(self) -> str:
        run = uuid.uuid4().hex
        deadline = self.clock() + self.wait_s
        while not self.try_put(run):
            if self.clock() >= deadline:
                raise LockConflict(
                    f"another failover hook of {self.topology} holds its lease (account "
                    f"{self.account}, {self.region}, table {TABLE}, key {self.key}); it expires "
                    f"by itself within {self.ttl_s:.0f}s"
                )
            self.sleep(0.25)
        return run

    def try_put(self, run: str) -> bool:
        now = self.clock()
        item = {
            KEY: {"S": self.key},
            "owner": {"S": owner()},
            "run": {"S": run},
            "expires": {"N": f"{now + self.ttl_s:.3f}"},
        }
        condition = f"attribute_not_exists({KEY}) OR expires < :now"
        values = {":now": {"N": f"{now:.3f}"}}
        refused = self.table().put_item(
            TABLE, item, condition, values, (CONDITION_FAILED, NO_TABLE)
        )
        if refused == NO_TABLE:
            self.make_table()
            return self.try_put(run)
        return refused is None

    def make_table(self) -> None:
        ApplyLock(
            self.sessions, self.account, self.topology, self.retry, self.sleep, wire=self.wire
        ).ensure_table()

    def release(self, run: str) -> None:
        """Only if it is still ours (one that expired may be another run's now)."""
        key = {KEY: {"S": self.key}}
        self.table().delete_item(TABLE, key, "run = :run", {":run": {"S": run}})


@contextmanager
def leases(make: Callable[[str], Lease], accounts: frozenset[str]) -> Iterator[None]:
    """Every account's lease, taken in name order so two runs cannot wait on each other."""
    with ExitStack() as stack:
        for account in sorted(accounts):
            stack.enter_context(make(account).held())
        yield
