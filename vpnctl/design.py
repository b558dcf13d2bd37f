"""The desired network, derived from the topology and its allocation. Pure.

``design(topology, lock)`` says what should exist: per VPC its routing and gateway subnets, one
gateway per AZ with a stable DNS name, the tunnels of every link with their /30s and ports, one
route table per AZ for the routing subnets, the flows allowed to cross (and which VPCs' gateways
carry each, so a gateway's filter holds only its own), and warnings a reviewer should read.
Everything downstream (the plan, rendered configs, apply, the lab, the failover hook) reads
this one model.

Paths. A VPC reaches its linked VPCs directly, a transit entry's far end through its ``via``,
and with ``links: {hub: H}`` every spoke reaches every other VPC through H. Each routing-subnet
route table sends all of that to the gateway of its own AZ (``via``); ``gateways`` lists the
others in the order failover would use them. Its routes are summarised per next-hop VPC, so
failover can move one next hop's routes without the others' (``per_hop``), unless that needs
more routes than the quota allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

from vpnctl.ipam import AWS_RESERVED, DOCKER_BRIDGE, Lock
from vpnctl.summary import Summariser, merge
from vpnctl.topology import Flow, Topology, TunnelOptions, Vpc
from vpnctl.tunnels import (
    TunnelSpec,
    all_tunnels,
    az_suffix,
    gateway_name,
    pairing_note,
    repairing_note,
)

PSK_WARNING = (
    "tunnel mode psk: OpenVPN 2.6 deprecates static keys and 2.7 refuses them unless told "
    "allow-deprecated-insecure-static-crypto; the rendered configs say so and still start on "
    "2.5 to 2.7, but plan a move to mode: fingerprint"
)


@dataclass(frozen=True)
class Subnet:
    az: str
    cidr: IPv4Network


@dataclass(frozen=True)
class Gateway:
    name: str
    vpc: str
    az: str
    fqdn: str
    subnet: IPv4Network  # its public gateway subnet
    account: str
    partition: str
    region: str


@dataclass(frozen=True)
class TunnelEnd:
    gateway: str
    vpc: str
    az: str
    fqdn: str
    inside_ip: IPv4Address
    port: int
    routes: tuple[IPv4Network, ...]  # destinations this end sends into the tunnel


@dataclass(frozen=True)
class Tunnel:
    name: str
    link: str
    inside_cidr: IPv4Network
    a: TunnelEnd
    b: TunnelEnd
    options: TunnelOptions

    @property
    def mode(self) -> str:
        return self.options.mode

    def ends(self) -> tuple[TunnelEnd, TunnelEnd]:
        return self.a, self.b

    def end(self, gateway: str) -> tuple[TunnelEnd, TunnelEnd]:
        """(this end, the far end) as seen from ``gateway``."""
        return (self.a, self.b) if self.a.gateway == gateway else (self.b, self.a)


@dataclass(frozen=True)
class RouteTable:
    name: str
    vpc: str
    az: str
    subnet: IPv4Network  # the routing subnet it serves
    destinations: tuple[IPv4Network, ...]
    gateways: tuple[str, ...]  # preference order: same-AZ first, failover after

    @property
    def via(self) -> str:
        return self.gateways[0]


@dataclass(frozen=True)
class AllowedFlow:
    flow: Flow
    sources: tuple[IPv4Network, ...]  # the routing subnets of flow.src
    destinations: tuple[IPv4Network, ...]


@dataclass(frozen=True)
class VpcDesign:
    name: str
    account: str
    partition: str
    region: str
    cidr: IPv4Network
    vpc_id: str | None  # adopted, never created or deleted
    routing_subnets: tuple[Subnet, ...]
    gateway_subnets: tuple[Subnet, ...]
    gateways: tuple[str, ...]
    route_tables: tuple[str, ...]


@dataclass(frozen=True)
class Design:
    name: str
    zone: str
    ttl: int
    route_quota: int
    vpcs: Mapping[str, VpcDesign]
    gateways: tuple[Gateway, ...]
    tunnels: tuple[Tunnel, ...]
    route_tables: tuple[RouteTable, ...]
    flows: tuple[AllowedFlow, ...]
    warnings: tuple[str, ...] = field(default=())
    # per VPC, indices into ``flows`` of those its gateways forward: its own, and those it
    # carries in transit (indices keep the design compact where it is serialised)
    carried: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @cached_property
    def gateway_by_name(self) -> Mapping[str, Gateway]:
        return {g.name: g for g in self.gateways}

    @cached_property
    def route_table_by_name(self) -> Mapping[str, RouteTable]:
        return {t.name: t for t in self.route_tables}

    @cached_property
    def flows_by_vpc(self) -> Mapping[str, tuple[AllowedFlow, ...]]:
        """Per VPC the flows its gateways forward."""
        return {v: tuple(self.flows[i] for i in found) for v, found in self.carried.items()}

    @cached_property
    def tunnel_by_name(self) -> Mapping[str, Tunnel]:
        return {t.name: t for t in self.tunnels}

    @cached_property
    def tunnels_by_gateway(self) -> Mapping[str, tuple[Tunnel, ...]]:
        index: dict[str, list[Tunnel]] = {g.name: [] for g in self.gateways}
        for tunnel in self.tunnels:
            for end in tunnel.ends():
                index[end.gateway].append(tunnel)
        return {g: tuple(ts) for g, ts in index.items()}

    def route_count(self) -> int:
        return sum(len(t.destinations) for t in self.route_tables)


def design(topology: Topology, lock: Lock) -> Design:
    """The desired network for ``topology`` as allocated in ``lock`` (which must cover it)."""
    return _Designer(topology, lock).run()


def summariser(topology: Topology, lock: Lock) -> Summariser:
    """The route summariser of ``topology``'s address plan: a summary may cover the pool's free
    space, never a reserved range, AWS's or Docker's, or the tunnel pool."""
    a = topology.addressing
    forbidden = [*a.reserved, *AWS_RESERVED, DOCKER_BRIDGE, a.tunnel_pool]
    return Summariser({n: lock.vpcs[n].cidr for n in topology.vpcs}, a.pool, forbidden)


class _Designer:
    def __init__(self, topology: Topology, lock: Lock) -> None:
        self.t = topology
        self.lock = lock
        self.hops = _next_hops(topology)
        self.summariser = summariser(topology, lock)
        self.specs = sorted(all_tunnels(topology, lock.tunnels), key=lambda s: s.name)
        self.table_routes: dict[str, tuple[IPv4Network, ...]] = {}
        # VPCs whose routes per next hop would not fit the quota: (routes needed, exact count)
        self.one_route: dict[str, tuple[int, bool]] = {}

    def run(self) -> Design:
        vpcs = {name: self.vpc(vpc) for name, vpc in sorted(self.t.vpcs.items())}
        gateways = tuple(self.gateway(v, az) for v in self.sorted_vpcs() for az in sorted(v.azs))
        tables = tuple(t for v in self.sorted_vpcs() for t in self.tables(v))
        tunnels = self.tunnels()
        flows = tuple(self.flow(f) for f in self.t.allow)
        return Design(
            name=self.t.name,
            zone=self.t.dns.zone,
            ttl=self.t.dns.ttl,
            route_quota=self.t.addressing.route_quota,
            vpcs=vpcs,
            gateways=gateways,
            tunnels=tunnels,
            route_tables=tables,
            flows=flows,
            warnings=self.warnings(tables, tunnels),
            carried=self.carried(flows),
        )

    def sorted_vpcs(self) -> list[Vpc]:
        return [self.t.vpcs[n] for n in sorted(self.t.vpcs)]

    def routing(self, vpc: str) -> tuple[Subnet, ...]:
        return tuple(
            Subnet(az, a.routing)
            for az, a in self.lock.vpcs[vpc].azs.items()
            if az in self.t.vpcs[vpc].azs
        )

    def vpc(self, vpc: Vpc) -> VpcDesign:
        alloc = self.lock.vpcs[vpc.name]
        azs = sorted(vpc.azs)
        return VpcDesign(
            name=vpc.name,
            account=vpc.account,
            partition=self.t.partition(vpc.name),
            region=vpc.region,
            cidr=alloc.cidr,
            vpc_id=vpc.vpc_id,
            routing_subnets=self.routing(vpc.name),
            gateway_subnets=tuple(Subnet(az, alloc.azs[az].gateway) for az in azs),
            gateways=tuple(gateway_name(vpc, az) for az in azs),
            route_tables=tuple(f"rt-{vpc.name}-{az_suffix(vpc, az)}" for az in azs),
        )

    def gateway(self, vpc: Vpc, az: str) -> Gateway:
        name = gateway_name(vpc, az)
        return Gateway(
            name=name,
            vpc=vpc.name,
            az=az,
            fqdn=f"{name}.{self.t.dns.zone}",
            subnet=self.lock.vpcs[vpc.name].azs[az].gateway,
            account=vpc.account,
            partition=self.t.partition(vpc.name),
            region=vpc.region,
        )

    # ----------------------------------------------------------------- route tables

    def destinations(self, vpc: str) -> tuple[IPv4Network, ...]:
        if vpc not in self.table_routes:
            self.table_routes[vpc] = self._destinations(vpc)
        return self.table_routes[vpc]

    def _destinations(self, vpc: str) -> tuple[IPv4Network, ...]:
        hops = self.hops[vpc]
        if not self.t.addressing.summarise:
            # exact routing subnets never merge across VPCs (each VPC also holds gateway
            # subnets), so these are already one set of routes per destination VPC
            return merge(s.cidr for u in hops.reached(self.t.vpcs) for s in self.routing(u))
        count = len(hops.next_hops(len(self.t.vpcs)))
        if count > 1 and (grouped := self.per_hop(vpc, count)) is not None:
            return grouped
        return self.summary(vpc)

    def summary(self, vpc: str) -> tuple[IPv4Network, ...]:
        """The fewest routes for everything ``vpc`` reaches, whatever its next hop."""
        hops = self.hops[vpc]
        if hops.reaches_all(len(self.t.vpcs)):
            return self.summariser.for_all_others(vpc)
        return self.summariser.for_some(vpc, hops.reached(self.t.vpcs))

    def per_hop(self, vpc: str, count: int) -> tuple[IPv4Network, ...] | None:
        """Routes summarised per next-hop VPC, or None when they would not fit the quota.

        A summary shared by two next hops is one route, so failover could move it only as a
        whole: a gateway that lost its tunnel to one next hop would take the other's traffic
        with it. Each group's summary covers only its own VPCs (``for_some`` forbids the rest),
        so the groups' routes are disjoint. There are at least as many routes as next hops:
        that count is checked first, so a hub of thousands of spokes costs no summary per
        spoke before it falls back to one summary. ``count`` is the number of next hops.
        """
        quota, exact = self.t.addressing.route_quota, False
        if count <= quota:
            groups = self.hops[vpc].groups(self.t.vpcs).values()
            routes = sorted(r for g in groups for r in self.summariser.for_some(vpc, g))
            if len(routes) <= quota:
                return tuple(routes)
            count, exact = len(routes), True
        self.one_route[vpc] = (count, exact)
        return None

    def tables(self, vpc: Vpc) -> list[RouteTable]:
        azs = sorted(vpc.azs)
        gateways = [gateway_name(vpc, az) for az in azs]
        tables = []
        for i, az in enumerate(azs):
            order = (gateways[i], *gateways[:i], *gateways[i + 1 :])
            tables.append(
                RouteTable(
                    name=f"rt-{vpc.name}-{az_suffix(vpc, az)}",
                    vpc=vpc.name,
                    az=az,
                    subnet=self.lock.vpcs[vpc.name].azs[az].routing,
                    destinations=self.destinations(vpc.name),
                    gateways=order,
                )
            )
        return tables

    # ----------------------------------------------------------------- tunnels

    def tunnels(self) -> tuple[Tunnel, ...]:
        by_gateway: dict[str, list[TunnelSpec]] = {}
        for spec in self.specs:
            by_gateway.setdefault(spec.a_gateway, []).append(spec)
            by_gateway.setdefault(spec.b_gateway, []).append(spec)
        routes: dict[tuple[str, str], tuple[IPv4Network, ...]] = {}
        for gw, specs in by_gateway.items():
            routes.update(self.gateway_routes(gw, specs))
        return tuple(self.tunnel(s, routes) for s in self.specs)

    def tunnel(
        self, spec: TunnelSpec, routes: Mapping[tuple[str, str], tuple[IPv4Network, ...]]
    ) -> Tunnel:
        alloc = self.lock.tunnels[spec.name]
        hosts = list(alloc.inside.hosts())

        def end(gw: str, vpc: str, az: str, ip: IPv4Address) -> TunnelEnd:
            return TunnelEnd(
                gw,
                vpc,
                az,
                f"{gw}.{self.t.dns.zone}",
                ip,
                alloc.port,
                routes.get((gw, spec.name), ()),
            )

        return Tunnel(
            spec.name,
            spec.link.name,
            alloc.inside,
            end(spec.a_gateway, spec.a_vpc, spec.a_az, hosts[0]),
            end(spec.b_gateway, spec.b_vpc, spec.b_az, hosts[1]),
            spec.link.tunnel,
        )

    def gateway_routes(
        self, gateway: str, specs: list[TunnelSpec]
    ) -> dict[tuple[str, str], tuple[IPv4Network, ...]]:
        """What ``gateway`` sends into each of its tunnels.

        A gateway with one tunnel sends it everything its VPC's tables send it: the same
        summarised routes. A gateway with several sends each tunnel exactly the routing subnets
        behind it, so that no aggregate steers one path's traffic into another's tunnel.
        """
        first = specs[0]
        vpc = first.a_vpc if first.a_gateway == gateway else first.b_vpc
        if len(specs) == 1:
            return {(gateway, first.name): self.destinations(vpc)}
        far = {
            s.name: (s.b_vpc, s.b_az) if s.a_gateway == gateway else (s.a_vpc, s.a_az)
            for s in specs
        }
        into: dict[str, list[str]] = {}  # next-hop VPC -> this gateway's tunnels to it
        for name, (far_vpc, _) in far.items():
            into.setdefault(far_vpc, []).append(name)
        chosen: dict[str, list[IPv4Network]] = {s.name: [] for s in specs}
        hops = self.hops[vpc]
        for dest in hops.reached(self.t.vpcs):
            hop = hops.hop(dest)
            candidates = into[hop]
            for subnet in self.routing(dest):
                same_az = [n for n in candidates if dest == hop and far[n][1] == subnet.az]
                chosen[(same_az or candidates)[0]].append(subnet.cidr)
        return {(gateway, name): merge(nets) for name, nets in chosen.items()}

    # ----------------------------------------------------------------- flows and warnings

    def flow(self, flow: Flow) -> AllowedFlow:
        return AllowedFlow(
            flow,
            tuple(s.cidr for s in self.routing(flow.src)),
            tuple(s.cidr for s in self.routing(flow.dst)),
        )

    def carried(self, flows: tuple[AllowedFlow, ...]) -> dict[str, tuple[int, ...]]:
        """Per VPC the flows (indices) its gateways forward: those the VPC is an end of, and
        those whose path crosses it in transit (a hub, a ``via``), either way. Linear in the
        flows."""
        found: dict[str, list[int]] = {n: [] for n in self.t.vpcs}
        for index, allowed in enumerate(flows):
            src, dst = allowed.flow.src, allowed.flow.dst
            for vpc in set(self.path(src, dst)) | set(self.path(dst, src)):
                found[vpc].append(index)
        return {n: tuple(f) for n, f in found.items()}

    def path(self, src: str, dst: str) -> list[str]:
        """The VPCs a packet from ``src`` to ``dst`` crosses, both ends included."""
        path = [src]
        while path[-1] != dst and len(path) <= len(self.t.vpcs):
            path.append(self.hops[path[-1]].hop(dst))
        return path

    def warnings(
        self, tables: tuple[RouteTable, ...], tunnels: tuple[Tunnel, ...]
    ) -> tuple[str, ...]:
        found = [n for link in self.t.links if (n := pairing_note(self.t, link))]
        by_link: dict[str, list[TunnelSpec]] = {}
        for spec in self.specs:
            by_link.setdefault(spec.link.name, []).append(spec)
        found += [
            n
            for link in self.t.links
            if (n := repairing_note(self.t, link, by_link.get(link.name, ())))
        ]
        quota = self.t.addressing.route_quota
        over = [t for t in tables if len(t.destinations) > quota]
        found += [
            f"route table {t.name} needs {len(t.destinations)} routes, over the quota of "
            f"{quota} (ask AWS for more, or set addressing.summarise: true)"
            for t in over[:10]
        ]
        if len(over) > 10:
            found.append(f"... and {len(over) - 10} more route tables over the quota")
        found += self.one_route_warnings(quota)
        if any(t.mode == "psk" for t in tunnels):
            found.append(PSK_WARNING)
        return tuple(found)

    def one_route_warnings(self, quota: int) -> list[str]:
        found = [
            f"route tables of VPC {vpc} fail over as one route: a route per next hop needs "
            f"{'' if exact else 'at least '}{count} routes, over the quota of {quota}"
            for vpc, (count, exact) in sorted(self.one_route.items())
        ]
        if len(found) > 10:
            found[10:] = [
                f"... and {len(found) - 10} more VPCs whose tables fail over as one route"
            ]
        return found


@dataclass(frozen=True)
class _Hops:
    """Where one VPC's traffic for each other VPC goes first."""

    direct: Mapping[str, str]  # destination VPC -> next-hop VPC
    default: str | None = None  # hub spokes: every VPC not in ``direct`` goes through this one
    vpc: str = ""

    def hop(self, dest: str) -> str:
        return self.direct.get(dest) or self.default or dest

    def reaches_all(self, total: int) -> bool:
        return self.default is not None or len(self.direct) == total - 1

    def reached(self, vpcs: Mapping[str, Vpc]) -> list[str]:
        if self.default is None:
            return sorted(self.direct)
        return [n for n in sorted(vpcs) if n != self.vpc]

    def next_hops(self, total: int) -> set[str]:
        """The distinct VPCs this one's traffic goes to first; not one per destination, so a
        hub's spoke costs as little as its links."""
        found = set(self.direct.values())
        if self.default is not None and len(self.direct) < total - 1:
            found.add(self.default)
        return found

    def groups(self, vpcs: Mapping[str, Vpc]) -> dict[str, list[str]]:
        """The destinations reached, per next-hop VPC."""
        found: dict[str, list[str]] = {}
        for dest in self.reached(vpcs):
            found.setdefault(self.hop(dest), []).append(dest)
        return found


def _next_hops(topology: Topology) -> dict[str, _Hops]:
    direct: dict[str, dict[str, str]] = {n: {} for n in topology.vpcs}
    for link in topology.links:
        direct[link.a][link.b] = link.b
        direct[link.b][link.a] = link.a
    for transit in topology.transit:
        direct[transit.a].setdefault(transit.b, transit.via)
        direct[transit.b].setdefault(transit.a, transit.via)
    hub = topology.hub
    return {
        n: _Hops(d, hub if hub is not None and n != hub else None, n) for n, d in direct.items()
    }
