"""What the hook knows before it looks at AWS: the design, the failover policy, the accounts.

From the CLI a ``Bundle`` comes from the topology (``from_plan``); in Lambda it is the JSON
file embedded in the deployment package (``embedded``), so the function never parses YAML
or allocates addresses at cold start. The JSON is written by a generic codec over the frozen
dataclasses of the design (``encode``/``decode``, guided by their type hints), so it cannot
drift from the model: a unit test round-trips every example topology.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from vpnctl.design import Design
from vpnctl.errors import VpnctlError
from vpnctl.topology import Account, Failover

FORMAT_VERSION = 1
EMBEDDED = Path(__file__).with_name("bundle.json")  # where the package puts it


@dataclass(frozen=True)
class Bundle:
    design: Design
    policy: Failover
    accounts: Mapping[str, Account]
    dns_account: str

    @property
    def topology(self) -> str:
        return self.design.name

    @classmethod
    def from_plan(cls, planned: Any) -> Bundle:
        """From a ``vpnctl.pipeline.Plan`` (typed loosely to keep this module light)."""
        topo = planned.topology
        return cls(planned.design, topo.failover, dict(topo.accounts), topo.dns.account)

    def to_json(self) -> str:
        document = {"format_version": FORMAT_VERSION, **encode(self)}
        return json.dumps(document, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Bundle:
        document = json.loads(text)
        if document.pop("format_version", None) != FORMAT_VERSION:
            raise VpnctlError(
                f"the embedded design is not format {FORMAT_VERSION}: rebuild the package "
                "with this vpnctl (`vpnctl failover package`)"
            )
        bundle: Bundle = decode(cls, document)
        return bundle


def embedded(path: Path = EMBEDDED) -> Bundle:
    if not path.exists():
        raise VpnctlError(
            f"no design embedded at {path}: deploy the package `vpnctl failover package` builds"
        )
    return Bundle.from_json(path.read_text())


def encode(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in fields(value) if f.init}
    if isinstance(value, IPv4Network | IPv4Address):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        return [encode(v) for v in value]
    return value


def decode(kind: Any, data: Any) -> Any:
    """``data`` (from ``encode``) back into ``kind``, as its type hints say."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, type) and is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: decode(hints[f.name], data[f.name]) for f in fields(kind) if f.init})
    if kind in (IPv4Network, IPv4Address):
        return kind(data)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        return decode(next(a for a in args if a is not type(None)), data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], item) for item in data)
        return tuple(decode(a, item) for a, item in zip(args, data, strict=True))
    if origin in (frozenset, set):
        return frozenset(decode(args[0], item) for item in data)
    if origin in (Mapping, dict):
        return {k: decode(args[1], v) for k, v in data.items()}
    return data
