"""Which gateways a topology has, and which pairs of them each link joins.

One gateway per AZ of every VPC, named after the VPC and the AZ's letter (``gw-us-west-2-a``),
so the name survives reordering AZs in the file and a replaced instance keeps it.

A fresh link joins the gateways of matching AZ position, AZs taken in name order. When the two
VPCs have different AZ counts the link gets as many tunnels as the larger side has AZs, and the
smaller side's gateways each take more than one, round-robin (3 AZs against 2: a-a, b-b, c-a).
So every gateway of both VPCs has a tunnel on every link it is part of, and every routing
subnet keeps a same-AZ way out.

Make before break: a link the lock file already has tunnels for keeps every recorded tunnel
whose two gateways still exist, whatever a fresh pairing would choose now, and only a gateway
left without a tunnel on the link gets new ones (its tunnels of the fresh pairing). So adding an
AZ adds tunnels and removes none; removing an AZ removes only that AZ's tunnels. Re-pairing a
link round-robin is an explicit request (``vpnctl plan --repair-tunnels LINK``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from vpnctl.topology import Link, Topology, Vpc


class Recorded(Protocol):
    """A tunnel the lock file records: only the link it belongs to matters here."""

    @property
    def link(self) -> str: ...


NOTHING: Mapping[str, Recorded] = {}
R = TypeVar("R", bound=Recorded)


def az_suffix(vpc: Vpc, az: str) -> str:
    """``us-west-2a`` in us-west-2 -> ``a``; local zones keep their longer suffix."""
    return az[len(vpc.region) :].lstrip("-")


def gateway_name(vpc: Vpc, az: str) -> str:
    return f"gw-{vpc.name}-{az_suffix(vpc, az)}"


@dataclass(frozen=True)
class TunnelSpec:
    """One tunnel of a link: the two gateways it joins (``a`` is in the link's first VPC)."""

    name: str
    link: Link
    a_vpc: str
    a_az: str
    a_gateway: str
    b_vpc: str
    b_az: str
    b_gateway: str


def tunnel_name(a: Vpc, a_az: str, b: Vpc, b_az: str) -> str:
    return f"{a.name}-{az_suffix(a, a_az)}--{b.name}-{az_suffix(b, b_az)}"


def _spec(link: Link, a: Vpc, a_az: str, b: Vpc, b_az: str) -> TunnelSpec:
    return TunnelSpec(
        tunnel_name(a, a_az, b, b_az),
        link,
        a.name,
        a_az,
        gateway_name(a, a_az),
        b.name,
        b_az,
        gateway_name(b, b_az),
    )


def fresh_tunnels(topology: Topology, link: Link) -> list[TunnelSpec]:
    """The round-robin pairing of ``link``, as if nothing were recorded."""
    a, b = topology.vpcs[link.a], topology.vpcs[link.b]
    a_azs, b_azs = sorted(a.azs), sorted(b.azs)
    return [
        _spec(link, a, a_azs[i % len(a_azs)], b, b_azs[i % len(b_azs)])
        for i in range(max(len(a_azs), len(b_azs)))
    ]


def _fresh_names(topology: Topology, link: Link) -> set[str]:
    """The names of ``fresh_tunnels``, without making the specs."""
    a, b = topology.vpcs[link.a], topology.vpcs[link.b]
    a_ends = [f"{a.name}-{az_suffix(a, az)}" for az in sorted(a.azs)]
    b_ends = [f"{b.name}-{az_suffix(b, az)}" for az in sorted(b.azs)]
    count = max(len(a_ends), len(b_ends))
    return {f"{a_ends[i % len(a_ends)]}--{b_ends[i % len(b_ends)]}" for i in range(count)}


def link_tunnels(
    topology: Topology, link: Link, recorded: Mapping[str, Recorded] = NOTHING
) -> list[TunnelSpec]:
    """The tunnels of ``link``: the recorded ones whose gateways exist, and for each gateway
    they leave without a tunnel on this link its tunnels of the fresh pairing. With nothing
    recorded, the fresh pairing itself."""
    names = {n for n, r in recorded.items() if r.link == link.name}
    return _pair(topology, link, names)


def all_tunnels(topology: Topology, recorded: Mapping[str, Recorded] = NOTHING) -> list[TunnelSpec]:
    by_link: dict[str, set[str]] = {}
    for name, entry in recorded.items():
        by_link.setdefault(entry.link, set()).add(name)
    return [t for link in topology.links for t in _pair(topology, link, by_link.get(link.name))]


def _pair(topology: Topology, link: Link, names: set[str] | None) -> list[TunnelSpec]:
    """``link``'s tunnels given the names the lock file records for it."""
    fresh = fresh_tunnels(topology, link)
    if not names or names == {s.name for s in fresh}:
        return fresh  # nothing recorded, or recorded as a fresh pairing makes it: the same
    kept = _kept(topology, link, names)
    covered = {g for s in kept for g in (s.a_gateway, s.b_gateway)}
    taken = {s.name for s in kept}
    for spec in fresh:
        if spec.name not in taken and not {spec.a_gateway, spec.b_gateway} <= covered:
            kept.append(spec)
            taken.add(spec.name)
    return sorted(kept, key=lambda s: s.name)


def _kept(topology: Topology, link: Link, names: set[str]) -> list[TunnelSpec]:
    """The recorded tunnels of ``link`` whose two gateways are still in the topology."""
    a, b = topology.vpcs[link.a], topology.vpcs[link.b]
    return [
        _spec(link, a, a_az, b, b_az)
        for a_az in sorted(a.azs)
        for b_az in sorted(b.azs)
        if tunnel_name(a, a_az, b, b_az) in names
    ]


def repaired(recorded: Mapping[str, R], topology: Topology, links: Iterable[str]) -> dict[str, R]:
    """``recorded`` with the links named re-paired round-robin, as if new: their recorded
    tunnels the fresh pairing does not make are dropped (those it makes keep their /30 and
    port). Only on request (``--repair-tunnels``), since it removes working tunnels."""
    named = set(links)
    fresh = {
        n for link in topology.links if link.name in named for n in _fresh_names(topology, link)
    }
    return {n: t for n, t in recorded.items() if t.link not in named or n in fresh}


def pairing_note(topology: Topology, link: Link) -> str | None:
    """What the plan says about a link whose VPCs have different AZ counts."""
    a, b = topology.vpcs[link.a], topology.vpcs[link.b]
    if len(a.azs) == len(b.azs):
        return None
    small, large = (a, b) if len(a.azs) < len(b.azs) else (b, a)
    return (
        f"link {link.name}: {large.name} has {len(large.azs)} AZs and {small.name} "
        f"{len(small.azs)}; {small.name}'s gateways each serve more than one tunnel of this link "
        f"(round-robin), so every AZ keeps a same-AZ gateway"
    )


def repairing_note(topology: Topology, link: Link, used: Iterable[TunnelSpec]) -> str | None:
    """What the plan says about a link whose tunnels (``used``, as ``link_tunnels`` pairs them)
    differ from a fresh pairing: what it keeps, and how to re-pair."""
    fresh = _fresh_names(topology, link)
    names = {s.name for s in used}
    if names == fresh:
        return None
    keeps, adds = sorted(names - fresh), sorted(fresh - names)
    instead = f" and adds {', '.join(adds)}" if adds else ""
    return (
        f"link {link.name}: keeps the recorded tunnel(s) {', '.join(keeps)} (make before "
        f"break: a new gateway gets tunnels of its own, no working tunnel is removed); "
        f"`vpnctl plan --repair-tunnels {link.name}` re-pairs it round-robin: removes "
        f"{', '.join(keeps)}{instead}"
    )
