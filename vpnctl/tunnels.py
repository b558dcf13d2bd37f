"""Which gateways a topology has, and which pairs of them each link joins.

One gateway per AZ of every VPC, named after the VPC and the AZ's letter (``gw-us-west-2-a``),
so the name survives reordering AZs in the file and a replaced instance keeps it.

A link joins the gateways of matching AZ position, AZs taken in name order. When the two VPCs
have different AZ counts the link gets as many tunnels as the larger side has AZs, and the
smaller side's gateways each take more than one, round-robin (3 AZs against 2: a-a, b-b, c-a).
So every gateway of both VPCs has a tunnel on every link it is part of, and every routing
subnet keeps a same-AZ way out.
"""

from __future__ import annotations

from dataclasses import dataclass

from vpnctl.topology import Link, Topology, Vpc


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


def link_tunnels(topology: Topology, link: Link) -> list[TunnelSpec]:
    a, b = topology.vpcs[link.a], topology.vpcs[link.b]
    a_azs, b_azs = sorted(a.azs), sorted(b.azs)
    result = []
    for i in range(max(len(a_azs), len(b_azs))):
        a_az, b_az = a_azs[i % len(a_azs)], b_azs[i % len(b_azs)]
        result.append(
            TunnelSpec(
                tunnel_name(a, a_az, b, b_az),
                link,
                a.name,
                a_az,
                gateway_name(a, a_az),
                b.name,
                b_az,
                gateway_name(b, b_az),
            )
        )
    return result


def all_tunnels(topology: Topology) -> list[TunnelSpec]:
    return [t for link in topology.links for t in link_tunnels(topology, link)]


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
