"""What the gateway agents said lately, as a pure input: tunnel -> freshest reading from either
end, gateway -> the freshest view of each sibling that watches it.

The agents publish ``TunnelUp`` and ``SiblingUp`` (``vpnctl.health_contract``) every few
seconds and send an event on every UP/DOWN transition; ``observe`` reads the datapoints of
the last ``GRACE_S`` seconds (and a margin), ``assess`` adds the event's own reading, and the
rules (``signals``) ask only two questions of a reading: is it fresh, and what does it say.
A reading older than ``GRACE_S`` is silence, and silence is not health.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from vpnctl.design import Design
from vpnctl.health_contract import GRACE_S, SIBLING_UP, TUNNEL_UP


@dataclass(frozen=True)
class Reading:
    at: float  # unix time of the measurement
    up: bool


@dataclass(frozen=True)
class Query:
    """One series the hook reads: ``gateway``'s view of a tunnel or of a sibling gateway."""

    metric: str  # TUNNEL_UP or SIBLING_UP
    gateway: str  # the gateway that measured
    subject: str  # the tunnel (TUNNEL_UP) or the sibling gateway (SIBLING_UP)

    def dimensions(self, topology: str) -> dict[str, str]:
        key = "Tunnel" if self.metric == TUNNEL_UP else "Sibling"
        return {"Topology": topology, "Gateway": self.gateway, key: self.subject}


@dataclass(frozen=True)
class Point:
    query: Query
    reading: Reading


@dataclass(frozen=True)
class Evidence:
    tunnels: Mapping[str, Reading] = field(default_factory=dict)  # freshest from either end
    # watched gateway -> the sibling that watched it -> its freshest view
    siblings: Mapping[str, Mapping[str, Reading]] = field(default_factory=dict)
    heard: frozenset[str] = frozenset()  # gateways that published anything read
    ready: frozenset[str] = frozenset()  # instance ids whose agent reported ready in an event

    def with_points(self, points: Iterable[Point]) -> Evidence:
        tunnels, siblings = dict(self.tunnels), {g: dict(v) for g, v in self.siblings.items()}
        heard = set(self.heard)
        for p in points:
            q, r = p.query, p.reading
            heard.add(q.gateway)
            if q.metric == TUNNEL_UP:
                tunnels[q.subject] = _fresher(tunnels.get(q.subject), r)
            else:
                views = siblings.setdefault(q.subject, {})
                views[q.gateway] = _fresher(views.get(q.gateway), r)
        return Evidence(tunnels, siblings, frozenset(heard), self.ready)

    def with_ready(self, instance_id: str) -> Evidence:
        return replace(self, ready=self.ready | {instance_id})


def gather(points: Iterable[Point]) -> Evidence:
    return Evidence().with_points(points)


def _fresher(have: Reading | None, new: Reading) -> Reading:
    """The later reading; at the same instant DOWN wins (the cautious one)."""
    if have is None or (new.at, not new.up) > (have.at, not have.up):
        return new
    return have


def fresh(reading: Reading | None, now: float, grace: float = GRACE_S) -> bool:
    return reading is not None and now - reading.at < grace


def says_up(reading: Reading | None, now: float) -> bool:
    return reading is not None and fresh(reading, now) and reading.up


def says_down(reading: Reading | None, now: float) -> bool:
    return reading is not None and fresh(reading, now) and not reading.up


def queries(design: Design, gateways: Iterable[str]) -> tuple[Query, ...]:
    """The series ``gateways`` publish: ``TunnelUp`` per tunnel, ``SiblingUp`` per sibling."""
    found: list[Query] = []
    for name in gateways:
        gateway = design.gateway_by_name[name]
        found += [Query(TUNNEL_UP, name, t.name) for t in design.tunnels_by_gateway[name]]
        found += [
            Query(SIBLING_UP, name, s) for s in design.vpcs[gateway.vpc].gateways if s != name
        ]
    return tuple(found)
