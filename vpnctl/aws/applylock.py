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

import botocore.exceptions

from vpnctl.aws import names
from vpnctl.aws.retry import Retry
from vpnctl.aws.session import Client, Sessions, aws_errors, error_code
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

    @property
    def region(self) -> str:
        return self.sessions.partition(self.account).global_region

    def client(self) -> Client:
        return self.sessions.client(self.account, self.region, "dynamodb")

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
        try:
            self.retry.call(
                lambda: self.client().put_item(
                    TableName=TABLE, Item=item, ConditionExpression=f"attribute_not_exists({KEY})"
                )
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            with aws_errors(self.account, self.region, f"apply lock of {self.topology}"):
                raise
        return True

    def holder(self) -> Holder | None:
        with aws_errors(self.account, self.region, f"apply lock of {self.topology}"):
            found = self.retry.call(
                lambda: self.client().get_item(
                    TableName=TABLE, Key={KEY: {"S": self.topology}}, ConsistentRead=True
                )
            )
        item = found.get("Item")
        if not item:
            return None
        return Holder(item["owner"]["S"], item["since"]["S"], item["run"]["S"])

    def release(self, holder: Holder) -> None:
        with aws_errors(self.account, self.region, f"apply lock of {self.topology}"):
            try:
                self.retry.call(
                    lambda: self.client().delete_item(
                        TableName=TABLE,
                        Key={KEY: {"S": self.topology}},
                        ConditionExpression="run = :run",
                        ExpressionAttributeValues={":run": {"S": holder.run}},
                    )
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise

    def break_lock(self) -> Holder | None:
        """``vpnctl unlock``: remove whoever holds it; returns who that was."""
        current = self.holder() if self.table_exists() else None
        if current is not None:
            with aws_errors(self.account, self.region, f"apply lock of {self.topology}"):
                self.retry.call(
                    lambda: self.client().delete_item(
                        TableName=TABLE, Key={KEY: {"S": self.topology}}
                    )
                )
        return current

    def table_exists(self) -> bool:
        try:
            self.retry.call(lambda: self.client().describe_table(TableName=TABLE))
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            with aws_errors(self.account, self.region, f"table {TABLE}"):
                raise
        return True

    def ensure_table(self) -> None:
        if self.table_exists():
            return
        with aws_errors(self.account, self.region, f"table {TABLE}"):
            try:
                self.retry.call(
                    lambda: self.client().create_table(
                        TableName=TABLE,
                        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST",
                        Tags=[{"Key": names.PURPOSE_TAG, "Value": "apply lock"}],
                    )
                )
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
            self.wait_active()

    def wait_active(self) -> None:
        for _ in range(60):
            table = self.retry.call(lambda: self.client().describe_table(TableName=TABLE))
            if table["Table"]["TableStatus"] == "ACTIVE":
                return
            self.sleep(2.0)
