"""Properties of allocation and design over random topologies."""

from __future__ import annotations

from collections import defaultdict
from ipaddress import IPv4Network
from itertools import combinations
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import parse
from tests.strategies import growths, topologies, transit_topologies
from vpnctl.design import design, summariser
from vpnctl.ipam import AWS_RESERVED, DOCKER_BRIDGE, Lock, allocate
from vpnctl.topology import Topology

POOL = IPv4Network("10.64.0.0/12")
TUNNEL_POOL = IPv4Network("169.254.64.0/18")


def allocated(d: dict[str, Any], lock: Lock | None = None) -> Lock:
    result = allocate(parse(d), lock)
    assert not result.problems, result.problems
    return result.lock


def reserved(d: dict[str, Any]) -> list[IPv4Network]:
    return [IPv4Network(r) for r in d["addressing"].get("reserved", [])]


@settings(max_examples=60, deadline=None)
@given(topologies())
def test_allocations_are_disjoint_inside_their_pools_and_clear_of_reserved(
    d: dict[str, Any],
) -> None:
    lock = allocated(d)
    cidrs = [v.cidr for v in lock.vpcs.values()]
    assert not any(a.overlaps(b) for a, b in combinations(cidrs, 2))
    forbidden = [*reserved(d), *AWS_RESERVED, DOCKER_BRIDGE]
    for name, alloc in lock.vpcs.items():
        pin = d["vpcs"][name].get("cidr")
        assert alloc.cidr == IPv4Network(pin) if pin else alloc.cidr.subnet_of(POOL)
        assert not any(alloc.cidr.overlaps(f) for f in forbidden)
        subnets = [s for a in alloc.azs.values() for s in (a.routing, a.gateway)]
        assert set(alloc.azs) == set(d["vpcs"][name]["azs"])
        assert all(s.subnet_of(alloc.cidr) for s in subnets)
        assert not any(a.overlaps(b) for a, b in combinations(subnets, 2))
    insides = [t.inside for t in lock.tunnels.values()]
    assert all(i.prefixlen == 30 and i.subnet_of(TUNNEL_POOL) for i in insides)
    assert not any(a.overlaps(b) for a, b in combinations(insides, 2))
    assert not any(i.overlaps(r) for i in insides for r in AWS_RESERVED)


@settings(max_examples=60, deadline=None)
@given(topologies())
def test_ports_are_unique_on_every_gateway(d: dict[str, Any]) -> None:
    topo = parse(d)
    plan = design(topo, allocated(d))
    ports = defaultdict(list)
    for t in plan.tunnels:
        for end in t.ends():
            ports[end.gateway].append(end.port)
    assert all(len(p) == len(set(p)) for p in ports.values())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_recorded_allocations_never_move(data: st.DataObject) -> None:
    d = data.draw(topologies(max_vpcs=5))
    before = allocated(d)
    after = allocated(data.draw(growths(d)), before)
    for name, alloc in before.vpcs.items():
        assert after.vpcs[name].cidr == alloc.cidr
        for az, sub in alloc.azs.items():
            assert after.vpcs[name].azs[az] == sub
    for name, tunnel in before.tunnels.items():
        assert after.tunnels[name] == tunnel
    for region, blocks in before.blocks.items():
        assert after.blocks[region][: len(blocks)] == blocks
    cidrs = [v.cidr for v in after.vpcs.values()]
    assert not any(a.overlaps(b) for a, b in combinations(cidrs, 2))


@settings(max_examples=60, deadline=None)
@given(topologies())
def test_routes_reach_every_linked_vpc_and_nothing_forbidden(d: dict[str, Any]) -> None:
    topo = parse(d)
    plan = design(topo, allocated(d))
    linked = defaultdict(set)
    for link in topo.links:
        linked[link.a].add(link.b)
        linked[link.b].add(link.a)
    forbidden = [*reserved(d), *AWS_RESERVED]
    for table in plan.route_tables:
        dests = table.destinations
        assert IPv4Network("0.0.0.0/0") not in dests
        assert not any(x.overlaps(f) for x in dests for f in forbidden)
        for remote in linked[table.vpc]:
            for subnet in plan.vpcs[remote].routing_subnets:
                assert any(subnet.cidr.subnet_of(x) for x in dests)
        for other, v in plan.vpcs.items():
            if other not in linked[table.vpc] and other != table.vpc:
                assert not any(x.overlaps(v.cidr) for x in dests)


def next_hops(topo: Topology) -> dict[str, dict[str, str]]:
    """Per VPC: destination VPC -> the VPC its traffic goes to first (links and transit)."""
    hops: dict[str, dict[str, str]] = {n: {} for n in topo.vpcs}
    for link in topo.links:
        hops[link.a][link.b], hops[link.b][link.a] = link.b, link.a
    for t in topo.transit:
        hops[t.a].setdefault(t.b, t.via)
        hops[t.b].setdefault(t.a, t.via)
    return hops


@settings(max_examples=80, deadline=None)
@given(transit_topologies())
def test_each_route_serves_one_next_hop_and_routes_never_overlap(d: dict[str, Any]) -> None:
    """Routes are summarised per next-hop VPC: a route covers the VPCs of one next hop only, so
    failover can move it alone; a VPC with one next hop keeps the one summary it always had."""
    topo, lock = parse(d), allocated(d)
    plan = design(topo, lock)
    hops = next_hops(topo)
    assert not any("fail over as one route" in w for w in plan.warnings)  # 7 VPCs fit 50
    for table in plan.route_tables:
        hop, dests = hops[table.vpc], table.destinations
        assert not any(x.overlaps(y) for x, y in combinations(dests, 2)), table
        for x in dests:
            covered = [v for v in plan.vpcs if v != table.vpc and plan.vpcs[v].cidr.overlaps(x)]
            assert set(covered) <= set(hop), (x, table)
            assert len({hop[v] for v in covered}) == 1, (x, table)
        for remote in hop:
            for subnet in plan.vpcs[remote].routing_subnets:
                assert any(subnet.cidr.subnet_of(x) for x in dests)
        assert len(dests) >= len(set(hop.values()))
        if len(set(hop.values())) == 1:
            assert dests == summariser(topo, lock).for_some(table.vpc, hop)


@settings(max_examples=60, deadline=None)
@given(topologies())
def test_one_next_hop_for_all_others_is_for_some_of_all_others(d: dict[str, Any]) -> None:
    """The design asks ``for_all_others`` when a VPC reaches every other through one next hop:
    the same routes as ``for_some`` of every other VPC, only shared between VPCs."""
    topo, lock = parse(d), allocated(d)
    s = summariser(topo, lock)
    for vpc in lock.vpcs:
        others = [n for n in lock.vpcs if n != vpc]
        assert s.for_all_others(vpc) == s.for_some(vpc, others)
