"""Which keys each end of a tunnel holds, without reading a key: a version on every parameter.

Every SSM parameter vpnctl writes carries, in its Description, the version of the tunnel's
key set it belongs to: a digest of all of the tunnel's parameters (names and values), the same
in both ends' regions when they hold the same keys, though each region stores only its own
gateways' pieces. ``DescribeParameters`` returns the
Description with the names ``observe`` reads anyway, so no value is read and no call is added.

The digest is of 2048-bit random keys and P-256 private keys, cut to 64 bits: it tells two key
sets apart and nothing about either. A tunnel whose parameters do not all carry one version
(a rotation killed between its two regional writes, or inside one) is an unfinished rotation;
apply reports it and refuses (see ``diff``), ``keys rotate`` finishes it. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from vpnctl.aws import live as lv
from vpnctl.aws.intent import Intent
from vpnctl.design import Tunnel

PREFIX = "vpnctl key version "
UNRECORDED = "unrecorded"  # parameters written before versions were: no Description


def version(values: Mapping[str, str]) -> str:
    """The version of one tunnel's key set (parameter name -> value)."""
    digest = hashlib.sha256(b"vpnctl key version\0")
    for name in sorted(values):
        digest.update(name.encode() + b"\0" + values[name].encode() + b"\0")
    return digest.hexdigest()[:16]


def description(values: Mapping[str, str]) -> str:
    return PREFIX + version(values)


def parse(text: str | None) -> str:
    """The version a parameter's Description records, or ``UNRECORDED``."""
    if text and text.startswith(PREFIX):
        return text[len(PREFIX) :].strip() or UNRECORDED
    return UNRECORDED


@dataclass(frozen=True)
class Versions:
    """What one tunnel's parameters say in each region that stores them."""

    tunnel: str
    link: str
    by_place: Mapping[lv.RegionKey, frozenset[str]]  # (account, region) -> versions there

    @property
    def consistent(self) -> bool:
        return len(frozenset().union(*self.by_place.values())) <= 1

    @property
    def version(self) -> str | None:
        """The one version both ends hold, if they do (None also when a region has none)."""
        found = frozenset[str]().union(*self.by_place.values())
        whole = all(self.by_place.values())
        return next(iter(found)) if whole and len(found) == 1 else None

    def describe(self) -> str:
        return ", ".join(
            f"{region} {'/'.join(sorted(v)) or 'none'}"
            for (_account, region), v in sorted(self.by_place.items())
        )


def of_tunnel(intent: Intent, live: lv.Live, tunnel: Tunnel) -> Versions:
    places = sorted(
        {
            (g.account, g.region)
            for g in (intent.design.gateway_by_name[e.gateway] for e in tunnel.ends())
        }
    )
    by_place: dict[lv.RegionKey, frozenset[str]] = {}
    for place in places:
        region = live.region(*place)
        present = [n for n in intent.parameters_at(tunnel, *place) if n in region.parameters]
        by_place[place] = frozenset(region.key_versions.get(n, UNRECORDED) for n in present)
    return Versions(tunnel.name, tunnel.link, by_place)
