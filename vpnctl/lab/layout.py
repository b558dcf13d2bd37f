"""The lab's plan: which namespaces, links, addresses and routes stand in for a topology. Pure.

    internet namespace  ── one routed /30 per gateway: the gateway's "public" address
      │                    (198.18.0.0/15, the benchmarking range: never anyone's real address)
    gateway namespaces  ── real openvpn on the rendered configs; the rendered firewall;
      │                    the gateway subnet's base+4 towards the VPC router at base+1
    router namespace    ── one per VPC: stands in for the VPC's route tables, one policy-routing
      │                    table per routing subnet (``from <subnet> lookup <table>``), whose
      │                    routes are the design's, via the gateway the failover decision picks
    host namespaces     ── one per routing subnet (base+10), and one "private" host per VPC in a
                           subnet that is not routed across, to prove it stays unreachable

A gateway's two veths (``port``, named alike in its router and in the internet namespace) are its
network interface; their far ends carry its security group, as AWS's fabric does outside the
instance, and each routing host carries its VPC's routing group (``secgroups``).

Names: every namespace starts with the lab's prefix (``vl-<topology>``), so ``lab down`` finds
what a crashed ``lab up`` left even without its journal. Interface names are short and local to
their namespace (IFNAMSIZ is 15).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from vpnctl.design import Design
from vpnctl.space import Space

INTERNET = IPv4Network("198.18.0.0/16")  # gateway uplinks, /30 each
RELAYS = IPv4Network("198.19.0.0/16")  # addresses the delay relays listen on
ROUTER_OFFSET = 1  # AWS: the VPC router is the subnet's base + 1
GATEWAY_OFFSET = 4  # AWS keeps base .. base+3; the first instance address is base+4
HOST_OFFSET = 10
TABLE_BASE = 100


@dataclass(frozen=True)
class Iface:
    ns: str
    name: str
    address: IPv4Address
    network: IPv4Network


@dataclass(frozen=True)
class Wire:
    """A veth pair: ``a`` and ``b`` ends, each in its namespace with its address."""

    a: Iface
    b: Iface


@dataclass(frozen=True)
class GatewayNode:
    name: str
    vpc: str
    az: str
    ns: str
    public: IPv4Address  # its address on the internet namespace
    uplink: IPv4Address  # the internet namespace's end of that link: its default route
    private: IPv4Address  # on the gateway subnet
    router: IPv4Address  # the VPC router's address on the gateway subnet
    vpc_cidr: IPv4Network
    port: str  # its veth's name in its router and in the internet namespace: its "ENI"


@dataclass(frozen=True)
class HostNode:
    ns: str
    vpc: str
    az: str | None  # None for the private host
    address: IPv4Address
    router: IPv4Address
    routed: bool  # in a routing subnet


@dataclass(frozen=True)
class TableNode:
    """A route table in a router namespace: the design's RouteTable, as policy routing."""

    name: str
    vpc: str
    ns: str
    table_id: int
    source: IPv4Network  # the routing subnet it serves
    destinations: tuple[IPv4Network, ...]
    local: IPv4Network  # the VPC itself: thrown back to the main table, like AWS's local route
    gateways: tuple[str, ...]  # preference order


@dataclass(frozen=True)
class Layout:
    prefix: str
    internet: str
    routers: dict[str, str]  # vpc -> namespace
    gateways: dict[str, GatewayNode]
    hosts: tuple[HostNode, ...]
    tables: tuple[TableNode, ...]
    wires: tuple[Wire, ...]
    slots: Slots

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (
            self.internet,
            *self.routers.values(),
            *(g.ns for g in self.gateways.values()),
            *(h.ns for h in self.hosts),
        )

    def host(self, vpc: str, az: str | None) -> HostNode:
        return next(h for h in self.hosts if h.vpc == vpc and h.az == az)

    def gateway_ip(self, gateway: str) -> IPv4Address:
        return self.gateways[gateway].private


def prefix_for(topology_name: str) -> str:
    return f"vl-{topology_name}"


def plan(design: Design, prefix: str, kept: Slots | None = None) -> Layout:
    """The layout of ``design``; with ``kept`` (a running lab's slots), every gateway and route
    table that lab has keeps its uplink, port and table id, and only new ones take free ones,
    so growing a running lab never moves what already carries traffic."""
    routers = {vpc: f"{prefix}-rt-{vpc}" for vpc in design.vpcs}
    kept = kept or Slots({}, {})
    slots = Slots(_assign([g.name for g in design.gateways], kept.gateways),
                  _assign([t.name for t in design.route_tables], kept.tables))  # fmt: skip
    gateways, wires = _gateways(design, prefix, routers, slots.gateways)
    hosts, host_wires = _hosts(design, prefix, routers)
    return Layout(
        prefix=prefix,
        internet=f"{prefix}-inet",
        routers=routers,
        gateways=gateways,
        hosts=hosts,
        tables=_tables(design, routers, slots.tables),
        wires=(*wires, *host_wires),
        slots=slots,
    )


@dataclass(frozen=True)
class Slots:
    """Gateway -> its number (uplink /30 and port ``g<n>``); route table -> its number."""

    gateways: Mapping[str, int]
    tables: Mapping[str, int]

    def to_json(self) -> dict[str, dict[str, int]]:
        return {"gateways": dict(self.gateways), "tables": dict(self.tables)}

    @classmethod
    def from_json(cls, loaded: Mapping[str, Mapping[str, int]]) -> Slots:
        return cls(dict(loaded.get("gateways", {})), dict(loaded.get("tables", {})))


def _assign(names: list[str], kept: Mapping[str, int]) -> dict[str, int]:
    """Kept names keep their number; new ones take the lowest numbers nobody kept."""
    found = {n: kept[n] for n in names if n in kept}
    free = (i for i in itertools.count() if i not in set(kept.values()))
    for name in names:
        if name not in found:
            found[name] = next(free)
    return found


def _nth(network: IPv4Network, offset: int) -> IPv4Address:
    return network.network_address + offset


def _gateways(
    design: Design, prefix: str, routers: dict[str, str], numbers: Mapping[str, int]
) -> tuple[dict[str, GatewayNode], list[Wire]]:
    nodes, wires = {}, []
    for gw in design.gateways:
        ns = f"{prefix}-{gw.name}"
        i = numbers[gw.name]
        uplink = IPv4Network((int(INTERNET.network_address) + 4 * i, 30))
        router_ns = routers[gw.vpc]
        node = GatewayNode(
            name=gw.name,
            vpc=gw.vpc,
            az=gw.az,
            ns=ns,
            public=_nth(uplink, 2),
            uplink=_nth(uplink, 1),
            private=_nth(gw.subnet, GATEWAY_OFFSET),
            router=_nth(gw.subnet, ROUTER_OFFSET),
            vpc_cidr=design.vpcs[gw.vpc].cidr,
            port=f"g{i}",
        )
        nodes[gw.name] = node
        wires.append(Wire(Iface(f"{prefix}-inet", node.port, _nth(uplink, 1), uplink),
                          Iface(ns, "wan", node.public, uplink)))  # fmt: skip
        wires.append(Wire(Iface(router_ns, node.port, node.router, gw.subnet),
                          Iface(ns, "lan", node.private, gw.subnet)))  # fmt: skip
    return nodes, wires


def _hosts(
    design: Design, prefix: str, routers: dict[str, str]
) -> tuple[tuple[HostNode, ...], list[Wire]]:
    hosts, wires = [], []
    for vpc in design.vpcs.values():
        subnets: list[tuple[str | None, IPv4Network, bool]] = [
            (s.az, s.cidr, True) for s in vpc.routing_subnets
        ]
        subnets.append((None, _private_subnet(vpc.cidr, design, vpc.name), False))
        for az, cidr, routed in subnets:
            suffix = az[len(vpc.region) :].lstrip("-") if az else "private"
            ns = f"{prefix}-h-{vpc.name}-{suffix}"
            host = HostNode(
                ns, vpc.name, az, _nth(cidr, HOST_OFFSET), _nth(cidr, ROUTER_OFFSET), routed
            )
            hosts.append(host)
            # named by the AZ, not by position: an AZ added by ``lab apply`` takes no name
            # a running host already has (IFNAMSIZ: 15 characters)
            wires.append(Wire(Iface(routers[vpc.name], f"h-{suffix}"[:15], host.router, cidr),
                              Iface(ns, "eth0", host.address, cidr)))  # fmt: skip
    return tuple(hosts), wires


def _private_subnet(cidr: IPv4Network, design: Design, vpc: str) -> IPv4Network:
    """A /28 of the VPC outside its routing and gateway subnets: never routed across. The
    last /28 of the VPC's lower half when free: routing subnets are allocated from the bottom
    and gateway subnets from the top, so an AZ that ``lab apply`` adds later does not land on
    a running lab's private host."""
    space = Space.of(cidr)
    for subnet in (*design.vpcs[vpc].routing_subnets, *design.vpcs[vpc].gateway_subnets):
        space.remove(subnet.cidr)
    lower = next(cidr.subnets(prefixlen_diff=1)) if cidr.prefixlen < 28 else cidr
    middle = IPv4Network((int(lower.broadcast_address) - 15, 28))
    if space.contains(middle):
        return middle
    found = space.take(28)
    if found is None:
        raise ValueError(f"VPC {vpc} ({cidr}) has no room for a private test subnet")
    return found


def _tables(
    design: Design, routers: dict[str, str], numbers: Mapping[str, int]
) -> tuple[TableNode, ...]:
    return tuple(
        TableNode(
            name=t.name,
            vpc=t.vpc,
            ns=routers[t.vpc],
            table_id=TABLE_BASE + numbers[t.name],
            source=t.subnet,
            destinations=t.destinations,
            local=design.vpcs[t.vpc].cidr,
            gateways=t.gateways,
        )
        for t in design.route_tables
    )
