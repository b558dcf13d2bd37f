"""What every service of the door shares: where it works, and the three ways to call.

``call`` is an operation whose answer matters; error codes in ``ok`` mean "done already"
and give ``None``. ``attempt`` gives the ``Refusal`` itself for codes in ``ok``, for a method
that decides what such an answer means (one rule at a time after a duplicate, say). ``items``
reads every page of a list. Every other refusal becomes an ``AwsError`` naming the account,
the region and the resource the caller is working on, with ``ADVICE`` where there is some.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from vpnctl.aws.door.wire import Refusal, Reply, Request, Wire
from vpnctl.aws.session import ADVICE
from vpnctl.errors import AwsError

Tags = Mapping[str, str]


@dataclass(frozen=True)
class Where:
    """The account and region a call goes to, and what the caller is working on."""

    account: str
    region: str
    resource: str


@dataclass(frozen=True)
class Service:
    NAME: ClassVar[str]
    wire: Wire
    where: Where

    def call(
        self, operation: str, *, ok: Iterable[str] = (), idempotent: bool = True, **params: Any
    ) -> Reply | None:
        answer = self.attempt(operation, ok=ok, idempotent=idempotent, **params)
        return None if isinstance(answer, Refusal) else answer

    def reply(self, operation: str, *, idempotent: bool = True, **params: Any) -> Reply:
        """An operation with no "done already" answer."""
        answer = self.attempt(operation, idempotent=idempotent, **params)
        assert not isinstance(answer, Refusal)
        return answer

    def attempt(
        self, operation: str, *, ok: Iterable[str] = (), idempotent: bool = True, **params: Any
    ) -> Reply | Refusal:
        try:
            return self.wire.send(self.request(operation, params, idempotent))
        except Refusal as refusal:
            if refusal.code in frozenset(ok):
                return refusal
            self.fail(refusal)

    def items(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        try:
            return self.wire.items(self.request(operation, params, True), key)
        except Refusal as refusal:
            self.fail(refusal)

    def request(self, operation: str, params: dict[str, Any], idempotent: bool) -> Request:
        w = self.where
        return Request(w.account, w.region, self.NAME, operation, params, idempotent)

    def fail(self, refusal: Refusal) -> NoReturn:
        w = self.where
        raise AwsError(w.account, w.region, w.resource, shown(refusal)) from refusal


def shown(refusal: Refusal) -> str:
    advice = ADVICE.get(refusal.code) if refusal.from_aws else None
    return f"{refusal} ({advice})" if advice else str(refusal)


def tag_list(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(item: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", item.get("TagSet", [])) or []}
