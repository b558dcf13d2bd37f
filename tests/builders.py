"""Topologies for tests, built from a small default so each test states only what matters."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from vpnctl import source, topology
from vpnctl.design import Design, design
from vpnctl.ipam import Allocation, Lock, allocate

BASE: dict[str, Any] = {
    "version": 1,
    "name": "t",
    "accounts": {"main": {"partition": "aws"}, "china": {"partition": "aws-cn"}},
    "dns": {"zone": "vpn.example.com", "account": "main"},
    "addressing": {"pool": "10.64.0.0/12"},
    "vpcs": {
        "east": {"account": "main", "region": "us-east-1", "azs": ["us-east-1a", "us-east-1b"]},
        "west": {"account": "main", "region": "us-west-2", "azs": ["us-west-2a", "us-west-2b"]},
    },
    "links": [{"between": ["east", "west"]}],
}


def doc(**changes: Any) -> dict[str, Any]:
    """A copy of BASE with top-level keys replaced (None removes a key)."""
    result = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def text(d: dict[str, Any]) -> str:
    return yaml.safe_dump(d, sort_keys=False)


def parse(d: dict[str, Any] | str, file: str = "t.yaml") -> topology.Topology:
    return topology.parse(source.load(d if isinstance(d, str) else text(d), file))


def allocated(d: dict[str, Any], lock: Lock | None = None) -> Allocation:
    result = allocate(parse(d), lock)
    assert not result.problems, result.problems
    return result


def designed(d: dict[str, Any]) -> Design:
    topo = parse(d)
    return design(topo, allocated(d).lock)


def vpc(region: str, azs: str = "ab", account: str = "main", **extra: Any) -> dict[str, Any]:
    return {"account": account, "region": region, "azs": [f"{region}{z}" for z in azs], **extra}
