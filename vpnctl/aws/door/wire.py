"""The wire under the door: one request to AWS, answered or refused.

``BotoWire`` sends a request through the boto3 client of its account, region and service
(``Sessions`` makes and counts them), with ``Retry``'s bounded retries, and reads every page
of a list at the page size of ``pages``. It holds the one place where botocore's errors are
caught: each becomes a ``Refusal`` carrying AWS's error code and message, which the door turns
into "done already" or an ``AwsError``. ``vpnctl.aws.fakedoor.FakeWire`` answers the same
requests from dicts in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import botocore.exceptions
import botocore.parsers

from vpnctl.aws import pages
from vpnctl.aws.retry import NO_WAIT, Retry
from vpnctl.aws.session import Client
from vpnctl.partitions import PARTITIONS, Partition, partition_of_region

T = TypeVar("T")
Reply = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One AWS operation (boto3's snake_case name) in one account and region."""

    account: str
    region: str
    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold a key's value
    idempotent: bool = True  # safe to repeat after a lost connection (see ``retry``)


class Refusal(Exception):
    """AWS (or the way to it) said no: its error code and message, nothing else."""

    def __init__(self, code: str, message: str, *, from_aws: bool = True) -> None:
        self.code = code
        self.message = message
        self.from_aws = from_aws  # an answer of AWS's (else the way to it failed)
        super().__init__(f"{code}: {message}".rstrip(": ") if from_aws else message)


class Wire(Protocol):
    def send(self, request: Request) -> Reply:
        """The reply, or ``Refusal``."""
        ...

    def items(self, request: Request, key: str) -> list[dict[str, Any]]:
        """Every item under ``key`` of every page, or ``Refusal``."""
        ...

    def global_region(self, account: str) -> str:
        """Where IAM and Route 53 of this account's partition answer."""
        ...


class Clients(Protocol):
    """Where boto3 clients come from: ``Sessions`` (per topology account), or ``Given``."""

    def client(self, account: str, region: str, service: str) -> Client: ...

    def partition(self, account: str) -> Partition: ...


@dataclass(frozen=True)
class Given:
    """Clients made elsewhere, by service: a gateway's, with its instance role, in its region."""

    clients: Mapping[str, Client]
    region: str = ""

    def client(self, account: str, region: str, service: str) -> Client:
        return self.clients[service]

    def partition(self, account: str) -> Partition:
        return PARTITIONS[partition_of_region(self.region) or "aws"]


def chain_client(
    service: str, region: str | None, endpoint_url: str | None, **config: Any
) -> Client:
    """A client with the machine's credential chain (a gateway's instance role, the
    environment), outside any topology: what the gateway's agent and probe use. ``config`` is
    botocore's (timeouts, retries)."""
    import boto3
    from botocore.config import Config

    settings = Config(**config) if config else None
    session = boto3.session.Session(region_name=region)
    return refused(lambda: session.client(service, endpoint_url=endpoint_url, config=settings))


ONCE = Retry(attempts=1, base_s=0.0, cap_s=0.0, sleep=lambda _s: None)


@dataclass(frozen=True)
class BotoWire:
    sessions: Clients
    retry: Retry = NO_WAIT

    def send(self, request: Request) -> Reply:
        def once() -> Reply:
            client = self.sessions.client(request.account, request.region, request.service)
            return dict(getattr(client, request.operation)(**request.params) or {})

        return refused(lambda: self.retry.call(once, idempotent=request.idempotent))

    def items(self, request: Request, key: str) -> list[dict[str, Any]]:
        def every() -> list[dict[str, Any]]:
            client = self.sessions.client(request.account, request.region, request.service)
            if not client.can_paginate(request.operation):
                return list(getattr(client, request.operation)(**request.params).get(key, []))
            return pages.items(client, request.operation, key, **request.params)

        return refused(lambda: self.retry.call(every))

    def global_region(self, account: str) -> str:
        return self.sessions.partition(account).global_region


def refused(fn: Callable[[], T]) -> T:
    """The one ``except`` for botocore in vpnctl: what went wrong, as a ``Refusal``."""
    try:
        return fn()
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise Refusal(str(error.get("Code", "Unknown")), str(error.get("Message", ""))) from exc
    except botocore.exceptions.ProfileNotFound as exc:
        raise _local(exc, f"{exc} (add the profile, or drop it from the topology)") from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise _local(exc, "no credentials found (set a profile or AWS_* variables)") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise _local(exc, str(exc)) from exc
    except botocore.parsers.ResponseParserError as exc:  # not a BotoCoreError: garbled reply
        first = " ".join(str(exc).split())[:200]
        raise _local(exc, f"unreadable reply from AWS: {first}") from exc


def _local(exc: Exception, message: str) -> Refusal:
    return Refusal(type(exc).__name__, message, from_aws=False)
