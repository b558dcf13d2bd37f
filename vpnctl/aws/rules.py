"""Which ingress each security group needs, from the design. Pure.

AWS enforces a security group at each network interface and tracks connections per interface
(EC2 User Guide, "Amazon EC2 security group connection tracking",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html):
a reply is let in without a rule only on the interface that saw its request. With a gateway per
AZ, a reply may leave its VPC through another AZ's gateway than the one its request came in by
(each routing subnet's table sends everything to its own AZ's gateway), and that gateway's
interface has never seen the request. The same page defines untracked flows: a TCP or UDP flow
is not tracked only when rules allow it from 0.0.0.0/0 (or ::/0) and allow all response traffic
to 0.0.0.0/0 on all ports the other way; narrower rules are tracked, and ICMP always is.
Tracking only ever adds to what the rules let in: a packet a rule permits passes whatever the
tracking state.

So a gateway's group does not depend on tracking at all. It lets in all traffic from each of its
own VPC's routing subnets (once the VPC has an allowed flow): the requests of flows that leave
the VPC and the replies of flows that come to it, whichever AZ their request came through, and
their ICMP errors (path MTU). That is the shape "rules admit the replies", not "untracked":
0.0.0.0/0 would make the flows untracked but would open the gateway's every port to the
internet with only its own filter behind. Who may send through the gateway is all a group can
usefully say here: it cannot match source ports, and a reply's destination port is the
client's. Which protocol, port, direction and far subnet is the gateway's stateless nftables
forward filter's job. One rule per routing subnet also keeps the group far below AWS's rules per
group. Each tunnel's UDP port is open to the far gateway's Elastic IP alone (/32). Egress is the
group's default (all traffic to 0.0.0.0/0), which vpnctl leaves as AWS makes it.

A VPC's routing group, on its hosts, stays stateful and precise: only the allowed flows that come
to the VPC, by destination port, from the far routing subnets. A host is the end of its flows,
so its interface sees both directions and tracking admits the replies of what it started.

The gateways of one VPC also watch each other (``vpnctl.probe.targets.siblings``): each agent
sends ICMP echo requests to the VPC address of its siblings in the other AZs. So a gateway's
group lets in ICMP echo request (type 8, every code) from each sibling's gateway subnet, whether
or not the VPC has a flow. The echo reply needs no rule: ICMP is always tracked (the connection
tracking page above: only TCP and UDP flows can be untracked), and the reply comes back to the
interface that sent the request. For ICMP, an IpPermission's FromPort is the type and ToPort the
code, -1 for all (EC2 API Reference, "IpPermission",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html).

A peer's Elastic IP not allocated yet stays a ``Ref`` until apply knows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vpnctl.aws.changes import Permit, Ref
from vpnctl.design import AllowedFlow, Design, Gateway

ALL_PORTS = (0, 65535)
ICMP_ECHO_REQUEST = 8  # its type (RFC 792); FromPort of an ICMP rule
ICMP_ANY_CODE = -1  # ToPort of an ICMP rule: every code


def gateway_permits(
    design: Design, gateway: str, address_ip: Callable[[Gateway], Ref]
) -> tuple[Permit, ...]:
    return _unique(
        [
            *tunnel_permits(design, gateway, address_ip),
            *data_path_permits(design, gateway),
            *sibling_permits(design, gateway),
        ]
    )


def tunnel_permits(
    design: Design, gateway: str, address_ip: Callable[[Gateway], Ref]
) -> Iterator[Permit]:
    for tunnel in design.tunnels_by_gateway.get(gateway, ()):
        near, far = tunnel.end(gateway)
        ip = address_ip(design.gateway_by_name[far.gateway])
        source: str | Ref = f"{ip.id}/32" if ip.id else ip
        yield Permit("udp", near.port, near.port, source, f"tunnel {tunnel.name}")


def data_path_permits(design: Design, gateway: str) -> Iterator[Permit]:
    """All traffic from each of the gateway's own routing subnets, if its VPC has a flow."""
    vpc = design.gateway_by_name[gateway].vpc
    if not any(vpc in (f.flow.src, f.flow.dst) for f in design.flows):
        return
    why = f"data path of {vpc}: requests and replies (ports in the gateway filter)"
    for subnet in design.vpcs[vpc].routing_subnets:
        yield Permit("-1", -1, -1, str(subnet.cidr), why)


def sibling_permits(design: Design, gateway: str) -> Iterator[Permit]:
    """ICMP echo requests from the gateway subnet of each other gateway of its VPC: the
    siblings' probes. Their replies pass by tracking (ICMP is always tracked)."""
    here = design.gateway_by_name[gateway]
    for other in design.gateways:
        if other.vpc == here.vpc and other.name != gateway:
            why = f"sibling probe from {other.name} (echo request; replies tracked)"
            yield Permit("icmp", ICMP_ECHO_REQUEST, ICMP_ANY_CODE, str(other.subnet), why)


def routing_permits(design: Design, vpc: str) -> tuple[Permit, ...]:
    found: list[Permit] = []
    for flow in design.flows:
        if flow.flow.dst == vpc:
            found += flow_permits(flow)
    return _unique(found)


def unresolved(permits: tuple[Permit, ...]) -> list[Permit]:
    return [p for p in permits if isinstance(p.source, Ref)]


def flow_permits(flow: AllowedFlow) -> Iterator[Permit]:
    """One allowed flow as ingress rules at its destination: from its sources, by port."""
    why = f"allow {flow.flow.src} -> {flow.flow.dst}"
    for protocol, lo, hi in _ranges(flow.flow.proto, flow.flow.ports):
        for source in flow.sources:
            yield Permit(protocol, lo, hi, str(source), why)


def _ranges(proto: str, ports: tuple[tuple[int, int], ...]) -> list[tuple[str, int, int]]:
    if proto == "all":
        return [("-1", -1, -1)]
    if proto == "icmp":
        return [("icmp", -1, -1)]
    return [(proto, lo, hi) for lo, hi in ports] or [(proto, *ALL_PORTS)]


def _unique(permits: list[Permit]) -> tuple[Permit, ...]:
    seen: dict[tuple[str, int, int, str], Permit] = {}
    for p in permits:
        seen.setdefault((p.protocol, p.from_port, p.to_port, str(p.source)), p)
    return tuple(seen.values())
