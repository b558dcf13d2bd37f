"""Which ingress each security group needs, from the design. Pure.

A gateway's group opens each of its tunnels' UDP ports to the far gateway's Elastic IP alone
(/32), and lets in the allowed flows that leave its VPC (from its own routing subnets, to be
forwarded). A VPC's routing group lets in only the allowed flows that come to it, from the far
routing subnets. A peer's Elastic IP not allocated yet stays a ``Ref`` until apply knows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vpnctl.aws.changes import Permit, Ref
from vpnctl.design import AllowedFlow, Design, Gateway


def gateway_permits(
    design: Design, gateway: str, address_ip: Callable[[Gateway], Ref]
) -> tuple[Permit, ...]:
    found: list[Permit] = []
    for tunnel in design.tunnels_by_gateway.get(gateway, ()):
        near, far = tunnel.end(gateway)
        ip = address_ip(design.gateway_by_name[far.gateway])
        source: str | Ref = f"{ip.id}/32" if ip.id else ip
        found.append(Permit("udp", near.port, near.port, source, f"tunnel {tunnel.name}"))
    vpc = design.gateway_by_name[gateway].vpc
    for flow in design.flows:
        if flow.flow.src == vpc:
            found += _flow_permits(flow, flow.sources)
    return _unique(found)


def routing_permits(design: Design, vpc: str) -> tuple[Permit, ...]:
    found: list[Permit] = []
    for flow in design.flows:
        if flow.flow.dst == vpc:
            found += _flow_permits(flow, flow.sources)
    return _unique(found)


def unresolved(permits: tuple[Permit, ...]) -> list[Permit]:
    return [p for p in permits if isinstance(p.source, Ref)]


def _flow_permits(flow: AllowedFlow, sources: tuple[object, ...]) -> Iterator[Permit]:
    why = f"allow {flow.flow.src} -> {flow.flow.dst}"
    for protocol, lo, hi in _ranges(flow.flow.proto, flow.flow.ports):
        for source in sources:
            yield Permit(protocol, lo, hi, str(source), why)


def _ranges(proto: str, ports: tuple[tuple[int, int], ...]) -> list[tuple[str, int, int]]:
    if proto == "all":
        return [("-1", -1, -1)]
    if proto == "icmp":
        return [("icmp", -1, -1)]
    return [(proto, lo, hi) for lo, hi in ports] or [(proto, 0, 65535)]


def _unique(permits: list[Permit]) -> tuple[Permit, ...]:
    seen: dict[tuple[str, int, int, str], Permit] = {}
    for p in permits:
        seen.setdefault((p.protocol, p.from_port, p.to_port, str(p.source)), p)
    return tuple(seen.values())
