"""Sessions and clients per account, partition and region: the one door to AWS.

Each topology account gets its own boto3 session (its ``profile``, or the default credential
chain) and clients are made per region on first use, never at import time. ``endpoint_url``
sends every client to one AWS-compatible endpoint (a moto server, say); a sandbox passes its
own. Every client reports each call to the ``CallLog`` (operation and whether it mutates), which
is what tests and the benchmark count, and what a test's failure injector hooks into.

Clients are made here and called only by the door (``vpnctl.aws.door``): its wire is where
botocore failures are caught, and its services turn them into ``AwsError`` naming account,
region and resource (with ``ADVICE``); nothing else in vpnctl sees a ``ClientError``. A
profile that does not exist, or no credentials at all, fail there too, at the first call.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from vpnctl.partitions import PARTITIONS, Partition
from vpnctl.topology import Account

Client = Any  # boto3 clients are untyped; this alias keeps ``Any`` at the adapter edge
READ_PREFIXES = ("Describe", "List", "Get", "Head")

# What each refusal means for the user, by error code; the rest show AWS's own message.
ADVICE: Mapping[str, str] = {
    "AuthFailure": "check this account's credentials (profile or environment)",
    "UnrecognizedClientException": "check this account's credentials (profile or environment)",
    "InvalidClientTokenId": "check this account's credentials (profile or environment)",
    "ExpiredToken": "refresh this account's credentials",
    "OptInRequired": "enable the region for this account, or remove it from the topology",
    "UnauthorizedOperation": "the credentials lack permission for this call",
    "AccessDenied": "the credentials lack permission for this call",
    "AddressLimitExceeded": "release unused Elastic IPs or ask AWS for a higher EIP quota",
    "VpcLimitExceeded": "ask AWS for a higher VPC quota in this region",
    "RouteLimitExceeded": "summarise routes (addressing.summarise) or raise the route quota",
    "LimitExceeded": "a quota was reached: ask AWS to raise it",
    "RulesPerSecurityGroupLimitExceeded": "fewer allow flows, or raise the rules quota",
}


@dataclass(frozen=True)
class Call:
    account: str
    region: str
    service: str
    operation: str

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


Hook = Callable[[Call], None]


@dataclass
class CallLog:
    """Every AWS call made, in order; ``hooks`` run before each (a test may raise from one).
    ``phases`` say which of them a phase counted apart made (apply's wait for the gateways to
    converge: its polls last as long as boots take, whatever the topology)."""

    calls: list[Call] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> [start, end)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = len(self.calls)
        try:
            yield
        finally:
            self.phases[name] = (start, len(self.calls))

    def made_in(self, name: str) -> list[Call]:
        """The calls of the phase ``name`` (none when it never ran)."""
        start, end = self.phases.get(name, (0, 0))
        return self.calls[start:end]

    def record(self, call: Call) -> None:
        for hook in self.hooks:
            hook(call)
        with self._lock:
            self.calls.append(call)

    def by_kind(self) -> Counter[str]:
        return Counter(f"{c.service}:{c.operation}" for c in self.calls)

    def mutating(self, *, except_services: tuple[str, ...] = ()) -> list[Call]:
        return [c for c in self.calls if c.mutating and c.service not in except_services]


@dataclass
class Sessions:
    """Clients per (account, region, service), made on first use and shared across threads."""

    accounts: Mapping[str, Account]
    endpoint_url: str | None = None
    log: CallLog = field(default_factory=CallLog)
    credentials: Mapping[str, str] | None = None  # explicit keys (the sandbox's), else the chain
    _clients: dict[tuple[str, str, str], Client] = field(default_factory=dict, repr=False)
    _sessions: dict[str, boto3.session.Session] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None

    def partition(self, account: str) -> Partition:
        return PARTITIONS[self.accounts[account].partition]

    def client(self, account: str, region: str, service: str) -> Client:
        key = (account, region, service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make(account, region, service)
            return self._clients[key]

    def _make(self, account: str, region: str, service: str) -> Client:
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},  # tenacity retries, not botocore
            connect_timeout=10,
            read_timeout=60,
        )
        client = self._session(account).client(
            service, region_name=region, endpoint_url=self.endpoint_url, config=config
        )
        client.meta.events.register(
            "before-call", lambda model, **_: self.log.record(_call(account, region, model))
        )
        return client

    def _session(self, account: str) -> boto3.session.Session:
        if account not in self._sessions:
            if self.credentials is not None:
                self._sessions[account] = boto3.session.Session(**self.credentials)
            else:
                profile = self.accounts[account].profile
                self._sessions[account] = boto3.session.Session(profile_name=profile)
        return self._sessions[account]


def _call(account: str, region: str, model: Any) -> Call:
    service = str(model.service_model.endpoint_prefix)
    return Call(account, region, service, str(model.name))
