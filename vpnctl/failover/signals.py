"""From raw signals to each gateway's state: what the decision needs, derived in one place.

The signals: each gateway's instance state, the tunnels the probes hold DOWN, the probe
alarms, and what the gateway agents said (``Heard``: their fresh evidence, and which
instances reported ready). The health rules, for the gateways this run can read:

- a tunnel is up only while a measurement from either of its ends, fresher than ``GRACE_S``,
  says UP; a fresh DOWN is DOWN, and silence (no fresh measurement) is DOWN too;
- a gateway is usable only when its instance's agent has reported ready (``READY_TAG`` on the
  instance, or its "ready" event): a replacement still booting is not;
- a gateway that every sibling with a fresh view sees DOWN is not usable, whatever its own
  evidence says or fails to say (a hung gateway publishes nothing);
- these rules apply only when the topology publishes at all (``speaks``): when no gateway
  this run can read has a fresh datapoint or a ready mark (gateways older than the agent),
  gateways keep the instance-and-alarm treatment, and every decision says so. Gateways in
  regions this run cannot read keep it always: their alarm speaks for them.

With the rules on, an outage of the metrics service silences every gateway of a region at
once: none is usable, and the decision's rule 2 leaves every route of it as it is.

Two more facts are added here, because a gateway can be alive and useless:

- a tunnel whose far end is not running is down, whatever the probes have seen yet (an
  instance that is terminated passes nothing; waiting for three failed probe runs would only
  lengthen the outage); so is one whose far gateway's instance runs but has not reported
  ready: Auto Scaling launches a replacement as soon as it sees an instance terminated, and
  that new instance, its gateway's current one, carries no tunnel until it has booted;
- a tunnel into a transit VPC is down when the far gateway's tunnel onwards, to a VPC this
  tunnel carries routes for, is down: the path breaks beyond the first hop.

And what each gateway still *reaches*: the VPCs at the far end of its working tunnels, and
beyond a transit hub those whose onward tunnel from that hub works. The decision uses it per
destination, so a gateway that lost its way to one VPC keeps carrying traffic to the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network

from vpnctl.design import Design, Tunnel
from vpnctl.failover.decision import RUNNING, GatewayState
from vpnctl.failover.evidence import Evidence, fresh, says_down, says_up


@dataclass(frozen=True)
class Heard:
    """What the agents said, and whom it must speak for."""

    evidence: Evidence
    observed: frozenset[str]  # gateways in regions this run reads
    ready: frozenset[str]  # of those, the ones whose current instance reported ready
    now: float

    @property
    def speaks(self) -> bool:
        """Whether the topology publishes at all: anything read, or any gateway ready."""
        return bool(self.evidence.heard or self.ready)


def gateway_states(
    design: Design,
    instances: Mapping[str, str],
    probe_down: frozenset[str] = frozenset(),
    alarms: Mapping[str, str] | None = None,
    healthy_since: Mapping[str, float] | None = None,
    terminating: frozenset[str] = frozenset(),
    heard: Heard | None = None,
) -> dict[str, GatewayState]:
    """Every gateway's state. ``instances`` maps gateway -> EC2 state ("missing" if absent);
    ``heard`` None: no agent evidence is known of at all (not even which gateways it covers)."""
    alarms = alarms or {}
    healthy_since = healthy_since or {}
    rules = heard if heard is not None and heard.speaks else None
    said, silent = _tunnel_evidence(design, rules) if rules else (set(), set())
    lost = probe_down | said | silent
    booting = _booting(design, rules)
    direct = {
        g.name: _direct_down(design, g.name, instances, lost, booting) for g in design.gateways
    }
    states = {}
    for gw in design.gateways:
        beyond = {
            t: lost for t, lost in _beyond(design, gw.name, direct) if t not in direct[gw.name]
        }
        down = direct[gw.name] | set(beyond)
        states[gw.name] = GatewayState(
            instance=instances.get(gw.name, "missing"),
            alarm=alarms.get(gw.name, "OK"),
            down_tunnels=frozenset(down),
            terminating=gw.name in terminating,
            healthy_since=healthy_since.get(gw.name),
            beyond=tuple(sorted(beyond.items())),
            reaches=_reaches(design, gw.name, direct) if down else None,
            ready=gw.name not in booting,
            siblings_down=rules is not None and _siblings_down(design, gw.name, rules),
            silent_tunnels=frozenset(down & silent),
            unheard=heard is not None and _unheard(gw.name, instances, heard),
        )
    return states


def _tunnel_evidence(design: Design, heard: Heard) -> tuple[set[str], set[str]]:
    """(tunnels a fresh measurement says are DOWN, tunnels with no fresh measurement), among
    those with an end this run reads (the others' ends speak through their alarms)."""
    said, silent = set(), set()
    for tunnel in design.tunnels:
        if not {tunnel.a.gateway, tunnel.b.gateway} & heard.observed:
            continue
        reading = heard.evidence.tunnels.get(tunnel.name)
        if says_down(reading, heard.now):
            said.add(tunnel.name)
        elif not says_up(reading, heard.now):
            silent.add(tunnel.name)
    return said, silent


def _siblings_down(design: Design, gateway: str, heard: Heard) -> bool:
    """Every sibling (same VPC) with a fresh view of ``gateway`` sees it DOWN, and one has."""
    if gateway not in heard.observed:
        return False
    siblings = set(design.vpcs[design.gateway_by_name[gateway].vpc].gateways) - {gateway}
    views = heard.evidence.siblings.get(gateway, {})
    seen = [r for s, r in views.items() if s in siblings and fresh(r, heard.now)]
    return bool(seen) and not any(r.up for r in seen)


def _unheard(gateway: str, instances: Mapping[str, str], heard: Heard) -> bool:
    return (
        gateway in heard.observed
        and instances.get(gateway) == RUNNING
        and gateway not in heard.evidence.heard
        and gateway not in heard.ready
    )


def _booting(design: Design, rules: Heard | None) -> frozenset[str]:
    """Gateways this run reads whose current instance has not reported ready (with the rules
    on: a topology that publishes nothing has no ready marks to wait for)."""
    if rules is None:
        return frozenset()
    return frozenset(
        g.name for g in design.gateways if g.name in rules.observed and g.name not in rules.ready
    )


def _direct_down(
    design: Design,
    gateway: str,
    instances: Mapping[str, str],
    probe_down: frozenset[str],
    booting: frozenset[str],
) -> set[str]:
    down = set()
    for tunnel in design.tunnels_by_gateway[gateway]:
        _, far = tunnel.end(gateway)
        if (
            tunnel.name in probe_down
            or instances.get(far.gateway, "missing") != RUNNING
            or far.gateway in booting
        ):
            down.add(tunnel.name)
    return down


def _beyond(design: Design, gateway: str, direct: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """This gateway's tunnels whose far gateway has lost a tunnel this one routes through,
    each with the (first, by name) tunnel lost beyond it."""
    down = []
    for tunnel in design.tunnels_by_gateway[gateway]:
        here, far = tunnel.end(gateway)
        for lost in sorted(direct.get(far.gateway, ())):
            if lost != tunnel.name and _carries(here.routes, design, lost, far.gateway):
                down.append((tunnel.name, lost))
                break
    return down


def _carries(routes: tuple[IPv4Network, ...], design: Design, lost: str, via: str) -> bool:
    """Whether ``routes`` cover a routing subnet of the VPC beyond ``via``'s lost tunnel."""
    tunnel = _tunnel(design, lost, via)
    _, beyond = tunnel.end(via)
    subnets = (s.cidr for s in design.vpcs[beyond.vpc].routing_subnets)
    return any(subnet.subnet_of(route) for subnet in subnets for route in routes)


def _tunnel(design: Design, name: str, gateway: str) -> Tunnel:
    return next(t for t in design.tunnels_by_gateway[gateway] if t.name == name)


def _reaches(design: Design, gateway: str, direct: Mapping[str, set[str]]) -> frozenset[str]:
    """The routing subnets (CIDRs) traffic through ``gateway`` gets to, over working tunnels:
    all of the far VPC's, and beyond a transit hub those an onward tunnel that works carries
    (each end sends into its tunnel only the routes it has for it)."""
    found: set[str] = set()
    for tunnel in design.tunnels_by_gateway[gateway]:
        if tunnel.name in direct[gateway]:
            continue
        here, far = tunnel.end(gateway)
        found.update(str(s.cidr) for s in design.vpcs[far.vpc].routing_subnets)
        for onward in design.tunnels_by_gateway[far.gateway]:
            if onward.name == tunnel.name or onward.name in direct[far.gateway]:
                continue
            there, beyond = onward.end(far.gateway)
            if beyond.vpc == here.vpc:
                continue
            found.update(
                str(s.cidr)
                for s in design.vpcs[beyond.vpc].routing_subnets
                if _within(s.cidr, here.routes) and _within(s.cidr, there.routes)
            )
    return frozenset(found)


def _within(subnet: IPv4Network, routes: tuple[IPv4Network, ...]) -> bool:
    return any(subnet.subnet_of(route) for route in routes)
