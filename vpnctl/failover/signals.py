"""From raw signals to each gateway's state: what the decision needs, derived in one place.

The signals: each gateway's instance state, the tunnels the probes hold DOWN, the probe
alarms. Two facts are added here, because a gateway can be alive and useless:

- a tunnel whose far end is not running is down, whatever the probes have seen yet (an
  instance that is terminated passes nothing; waiting for three failed probe runs would only
  lengthen the outage);
- a tunnel into a transit VPC is down when the far gateway's tunnel onwards, to a VPC this
  tunnel carries routes for, is down: the path breaks beyond the first hop.

And what each gateway still *reaches*: the VPCs at the far end of its working tunnels, and
beyond a transit hub those whose onward tunnel from that hub works. The decision uses it per
destination, so a gateway that lost its way to one VPC keeps carrying traffic to the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network

from vpnctl.design import Design, Tunnel
from vpnctl.failover.decision import RUNNING, GatewayState


def gateway_states(
    design: Design,
    instances: Mapping[str, str],
    probe_down: frozenset[str] = frozenset(),
    alarms: Mapping[str, str] | None = None,
    healthy_since: Mapping[str, float] | None = None,
    terminating: frozenset[str] = frozenset(),
) -> dict[str, GatewayState]:
    """Every gateway's state. ``instances`` maps gateway -> EC2 state ("missing" if absent)."""
    alarms = alarms or {}
    healthy_since = healthy_since or {}
    direct = {g.name: _direct_down(design, g.name, instances, probe_down) for g in design.gateways}
    states = {}
    for gw in design.gateways:
        beyond = {
            t: lost for t, lost in _beyond(design, gw.name, direct) if t not in direct[gw.name]
        }
        states[gw.name] = GatewayState(
            instance=instances.get(gw.name, "missing"),
            alarm=alarms.get(gw.name, "OK"),
            down_tunnels=frozenset(direct[gw.name] | set(beyond)),
            terminating=gw.name in terminating,
            healthy_since=healthy_since.get(gw.name),
            beyond=tuple(sorted(beyond.items())),
            reaches=_reaches(design, gw.name, direct) if direct[gw.name] or beyond else None,
        )
    return states


def _direct_down(
    design: Design, gateway: str, instances: Mapping[str, str], probe_down: frozenset[str]
) -> set[str]:
    down = set()
    for tunnel in design.tunnels_by_gateway[gateway]:
        _, far = tunnel.end(gateway)
        if tunnel.name in probe_down or instances.get(far.gateway, "missing") != RUNNING:
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
